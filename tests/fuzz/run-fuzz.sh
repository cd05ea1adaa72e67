#!/usr/bin/env bash
# run-fuzz.sh [SECONDS] [TARGET...]: a long fuzzing session.
# Configures and builds the libFuzzer targets in BUILD_DIR (default
# build-fuzz at the top of the tree; CC=clang, QF_FUZZ=ON) and runs each
# TARGET (default: all, names without the fuzz_ prefix) for SECONDS
# (default 600), one after the other, growing the corpus in
# BUILD_DIR/tests/fuzz/corpus/<target>/ on top of the checked-in seeds.
# A crash stops the session; its input is in
# BUILD_DIR/tests/fuzz/artifacts/<target>/ and replays with
#   BUILD_DIR/tests/fuzz/fuzz_<target> <that file>
# Worth keeping: add a minimised copy (fuzz_<target> -minimize_crash=1) to
# tests/fuzz/corpus/<target>/ and a regression case to the unit tests.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$top/build-fuzz}
seconds=${1:-600}
[ $# -gt 0 ] && shift
CC=clang cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DQF_FUZZ=ON \
  >/dev/null
cmake --build "$build" -j"$(nproc)" --target qf_fuzzers
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$top"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi
for t in "${targets[@]}"; do
  work=$build/tests/fuzz/corpus/$t artifacts=$build/tests/fuzz/artifacts/$t
  mkdir -p "$work" "$artifacts"
  log=$build/tests/fuzz/fuzz_$t.log
  echo "run-fuzz: fuzz_$t for ${seconds}s (log: $log)"
  rc=0
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -max_len=65536 -print_final_stats=1 \
    -dict="$top/tests/fuzz/qiflow.dict" -artifact_prefix="$artifacts/" \
    "$work" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" >&2 || true
    echo "run-fuzz: fuzz_$t failed (exit $rc); input in $artifacts" >&2
    exit 1
  fi
done
echo "run-fuzz: ${#targets[@]} target(s), ${seconds}s each, no crash"
