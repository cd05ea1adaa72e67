#!/bin/sh
# lint.sh cppcheck|clang-tidy|clang-format SOURCE_DIR BUILD_DIR
# Static analysis of our own C code only (libqiflow/, collectd-plugins/,
# exporter/), from BUILD_DIR/compile_commands.json so each file is analysed
# with its real include paths and defines. Exits non-zero on any finding.
set -eu
tool=$1 src=$2 build=$3
db=$build/compile_commands.json
[ -f "$db" ] || { echo "lint.sh: $db missing (CMAKE_EXPORT_COMPILE_COMMANDS)" >&2; exit 2; }
cd "$src"
case "$tool" in
  cppcheck)
    # cppcheck-prelude.h: see its comment.
    exec cppcheck --project="$db" --quiet -j2 --error-exitcode=1 \
      --file-filter="$src/libqiflow/*" --file-filter="$src/collectd-plugins/*" \
      --file-filter="$src/exporter/*" \
      --std=c11 --library=posix --library=gnu --include="$src/tests/lint/cppcheck-prelude.h" \
      --enable=warning,style,performance,portability --inline-suppr \
      --suppressions-list="$src/tests/lint/cppcheck-suppressions.txt" \
      --template='{file}:{line}:{column}: {severity}: {message} [{id}]'
    ;;
  clang-tidy)
    # .clang-tidy at the top of the tree: checks and WarningsAsErrors.
    runner=$(command -v run-clang-tidy || command -v run-clang-tidy-14)
    exec "$runner" -quiet -p "$build" -j 2 \
      "^$src/(libqiflow|collectd-plugins|exporter)/"
    ;;
  clang-format)
    # Every tracked C file, formatted by the top .clang-format.
    git ls-files -z '*.c' '*.h' | xargs -0 "${QF_CLANG_FORMAT:-clang-format}" --dry-run --Werror
    ;;
  *)
    echo "usage: lint.sh cppcheck|clang-tidy|clang-format SOURCE_DIR BUILD_DIR" >&2
    exit 2
    ;;
esac
