#!/usr/bin/env bash
# dev.sh: the README's two commands.
#   contrib/dev.sh run  [qfstack run options]  install what is missing, build,
#                        run collectd + our plugins + the exporter until Ctrl-C
#   contrib/dev.sh test [ctest options]        install what is missing, build,
#                        run every test
# Both are idempotent. BUILD_DIR (default: build) and BUILD_TYPE (default:
# Debug) may be set in the environment.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$top/build}
build_type=${BUILD_TYPE:-Debug}

# Debian packages the build, the run and the tests need.
packages=(
  build-essential cmake pkgconf
  collectd-core collectd-dev libcollectdclient-dev
  libcurl4-openssl-dev libyajl-dev libmicrohttpd-dev zlib1g-dev
  libcmocka-dev python3 python3-pytest python3-jsonschema
  curl procps
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_missing
    build
    exec /usr/bin/python3 "$top/tests/integration/qfstack.py" run \
      --build-dir "$build_dir" "$@"
    ;;
  test)
    install_missing
    build
    exec ctest --test-dir "$build_dir" --output-on-failure "$@"
    ;;
  *)
    echo "usage: contrib/dev.sh run|test [options]" >&2
    exit 2
    ;;
esac
