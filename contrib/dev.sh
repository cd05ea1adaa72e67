#!/usr/bin/env bash
# dev.sh: the README's commands.
#   contrib/dev.sh deps                install what is missing and nothing
#                        else: the Debian packages below (and the test data
#                        install_missing fetches)
#   contrib/dev.sh build               configure and build BUILD_DIR
#   contrib/dev.sh check [ctest options]  the inner loop, seconds after a build:
#                        build, then the unit tests and the quick integration
#                        tests (CHECK_TESTS below) of that build
#   contrib/dev.sh run  [tools/demo.py options]  install what is missing,
#                        build, run the demo until Ctrl-C: collectd with our
#                        three plugins (a fake GitHub and a stand-in backend
#                        on 127.0.0.1) and the exporter on 127.0.0.1:8080
#   contrib/dev.sh test [ctest options]        install what is missing, build,
#                        run every test, then the reliability checks:
#     1 debug     Debug build (BUILD_DIR), its unit + integration tests
#     2 asan      ASan+UBSan build (build-asan), the same tests again
#     3 checks    unit tests under valgrind, cppcheck, clang-tidy (on 1)
#     4 fuzz      clang libFuzzer build (build-fuzz), each target ~20 s
#     5 arm       cross builds for arm64 and armhf (build-arm64, build-armhf):
#                 unit tests and seed corpora under qemu-user, Debian's
#                 collectd-core:arm64 with our plugins, the .debs
#   Every stage runs even when an earlier one failed; a summary with each
#   stage's time follows, then one "N passed, N failed" line (tests, plus
#   one failure per stage that broke before its tests). ctest options apply
#   to every stage. QF_STAGES (default "debug asan checks fuzz arm") picks
#   stages; the arm stage's packages are installed only when it is picked
#   (also by `QF_STAGES=arm contrib/dev.sh deps`).
# All are idempotent; build and check install nothing (run deps first on a
# new machine). BUILD_DIR (default: build) and BUILD_TYPE (default: Debug)
# may be set in the environment.
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
  # cpack's DEB generator (test_package) runs dpkg-shlibdeps, which needs file
  file
  # promtool (Debian's prometheus package) checks the /metrics exposition;
  # test_fleet runs the real Prometheus and collectd's own write_prometheus,
  # whose library collectd-core only suggests
  prometheus libprotobuf-c1
  # reliability checks: sanitizers (gcc's libasan comes with gcc), valgrind,
  # static analysis, libFuzzer (clang + its runtime), symbolised reports
  valgrind cppcheck clang-tidy clang-format clang libclang-rt-14-dev llvm
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
  # npm fetches GitHub's OpenAPI description for the tests; Debian's nodejs
  # and npm unless a node with its own npm (NodeSource's) is there already.
  command -v npm >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -ne 0 ]; then
    echo "dev.sh: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # GitHub's OpenAPI description, pinned (tests/integration/
  # test_github_openapi.py serves its examples): the npm tarball is
  # checked against its registry sha512 and only the description is kept.
  local oapi_ver=23.0.2 oapi_dir=$top/build-deps/openapi-23.0.2 tgz
  local oapi_sha512=a55f0cecbf46636dc0c9b36f4e6a369f28e6a669edebedac444fedaabd192d070f4b8967c3bbb979918d9b044d9010b70fb8195db171e401f32d455105718386
  [ -s "$oapi_dir/api.github.com.json" ] && return 0
  mkdir -p "$oapi_dir"
  tgz=$oapi_dir/octokit-openapi-$oapi_ver.tgz
  # npm trusts the system's CA store too (NODE_EXTRA_CA_CERTS): a site whose
  # proxy CA is installed with update-ca-certificates reaches the registry
  # the way apt and curl do.
  if (cd "$oapi_dir" && NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
      npm pack --silent "@octokit/openapi@$oapi_ver" >/dev/null) &&
    echo "$oapi_sha512  $tgz" | sha512sum -c --quiet - &&
    tar -xzOf "$tgz" package/generated/api.github.com.json >"$oapi_dir/tmp.json"; then
    mv "$oapi_dir/tmp.json" "$oapi_dir/api.github.com.json"
  else
    echo "dev.sh: cannot fetch @octokit/openapi@$oapi_ver from the npm registry" \
      "(npm's error above); test_github_openapi skips, and fails under CI=true" >&2
    rm -f "$oapi_dir/tmp.json"
  fi
  rm -f "$tgz"
}

# The arm stage's cross builds (cmake/toolchain/): Debian's cross gcc,
# qemu-user and the target libraries as multiarch packages (<pkg>:arm64,
# <pkg>:armhf), installed only when the stage is selected. libcollectdclient
# and collectd-core are not multiarch in Debian 12 (they cannot sit beside
# the amd64 ones), so their .debs are unpacked into build-deps/sysroot-<arch>
# instead: libcollectdclient1 with its DEBIAN/ control files (dpkg-shlibdeps
# reads its shlibs there), collectd-core for the arm64 integration test.
cross_arches=(arm64 armhf)
install_cross() {
  local arch p pkgs=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user)
  local missing=() update=0 root tmp debs ver
  for arch in "${cross_arches[@]}"; do
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      as_root dpkg --add-architecture "$arch"
      update=1
    fi
    for p in libcurl4-openssl-dev libyajl-dev libmicrohttpd-dev zlib1g-dev \
      libcmocka-dev libgcrypt20 libcap2; do
      pkgs+=("$p:$arch")
    done
  done
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -ne 0 ]; then
    echo "dev.sh: installing ${missing[*]}"
    update=1
  fi
  [ "$update" -eq 1 ] && as_root apt-get update -qq
  [ ${#missing[@]} -eq 0 ] ||
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  ver=$(apt-cache policy libcollectdclient1 | awk '/Candidate:/ {print $2}')
  for arch in "${cross_arches[@]}"; do
    root=$top/build-deps/sysroot-$arch
    # Unpacked once per collectd version; a half-made root is made again.
    [ "$(cat "$root/.qf-unpacked" 2>/dev/null)" = "$ver" ] && continue
    rm -rf "$root"
    tmp=$(mktemp -d)
    debs=(libcollectdclient1 libcollectdclient-dev)
    [ "$arch" = arm64 ] && debs+=(collectd-core)
    chmod 0755 "$tmp"
    (cd "$tmp" && apt-get download -qq "${debs[@]/%/:$arch}" 2>/dev/null) || {
      echo "dev.sh: cannot download ${debs[*]} for $arch" >&2
      rm -rf "$tmp"
      return 1
    }
    dpkg-deb -R "$tmp"/libcollectdclient1_*_"$arch".deb "$root"
    for p in "${debs[@]:1}"; do
      dpkg-deb -x "$tmp/${p}_"*_"$arch".deb "$root"
    done
    # The .pc file names its own root, so pkg-config points into it.
    sed -i "s|^prefix=/usr\$|prefix=$root/usr|" "$root/usr/lib/pkgconfig/libcollectdclient.pc"
    rm -rf "$tmp"
    echo "$ver" >"$root/.qf-unpacked"
  done
}

build() {
  cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}

# check's integration tests: the quick ones (a few seconds each), which
# still start the real collectd and exporter, the docs' links and the three
# quick lint tests (format, function length, static prefixes). `test` runs them all.
CHECK_TESTS='^(integration_test_(schemas|harness|manpage|contrib|migrate|demo|sanitize|docs)|lint_(format|function_length|static_prefix))$'

# check ARGS...: build, then the unit tests and the quick integration tests.
check() {
  build || { echo "dev.sh: build failed (missing packages? contrib/dev.sh deps)" >&2; return 1; }
  ctest --test-dir "$build_dir" --output-on-failure -L unit -j"$(nproc)" "$@" &&
    ctest --test-dir "$build_dir" --output-on-failure -R "$CHECK_TESTS" \
      -j"$(nproc)" "$@"
}

# Test stages: each records "name|status|seconds|passed|failed|note".
stage_rows=()
total_passed=0 total_failed=0

# ctest_counted DIR ARGS...: ctest with its output shown; adds its counts.
ctest_counted() {
  local dir=$1 out rc=0 line passed failed
  shift
  out=$(mktemp)
  # pipefail (set above): rc is ctest's own status.
  ctest --test-dir "$dir" --output-on-failure "$@" 2>&1 | tee "$out" ||
    rc=$?
  # "100% tests passed, 0 tests failed out of 36"
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" |
    tail -n1 || true)
  rm -f "$out"
  if [ -z "$line" ]; then
    stage_note="no tests ran"
    return 1
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
  passed=$(( $(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line") - failed ))
  stage_passed=$((stage_passed + passed))
  stage_failed=$((stage_failed + failed))
  return "$rc"
}

# run_stage NAME FUNCTION ARGS...: times one stage and records its outcome.
run_stage() {
  local name=$1 start rc=0 status
  shift
  stage_passed=0 stage_failed=0 stage_note=""
  echo "==== dev.sh test: stage $name ===="
  start=$(date +%s)
  "$@" || rc=$?
  status=passed
  if [ "$rc" -ne 0 ]; then
    status=FAILED
    # A stage that broke outside its tests still counts as one failure.
    if [ "$stage_failed" -eq 0 ]; then
      stage_failed=1
      stage_note=${stage_note:-"exit status $rc, no test failed"}
    fi
  fi
  total_passed=$((total_passed + stage_passed))
  total_failed=$((total_failed + stage_failed))
  stage_rows+=("$name|$status|$(($(date +%s) - start))|$stage_passed|$stage_failed|$stage_note")
}

stage_debug() {
  build || { stage_note="build failed"; return 1; }
  ctest_counted "$build_dir" -LE 'valgrind|lint' "$@"
}

stage_asan() {
  local dir=$top/build-asan
  { cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DQF_SANITIZE=ON \
      >/dev/null && cmake --build "$dir" -j"$(nproc)"; } ||
    { stage_note="build failed"; return 1; }
  ctest_counted "$dir" "$@"
}

stage_checks() {
  # On stage 1's build (valgrind_* and lint_* are registered there).
  { cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" \
      >/dev/null && cmake --build "$build_dir" -j"$(nproc)"; } ||
    { stage_note="build failed"; return 1; }
  ctest_counted "$build_dir" -L 'valgrind|lint' -j"$(nproc)" "$@"
}

stage_fuzz() {
  local dir=$top/build-fuzz
  { CC=clang cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DQF_FUZZ=ON \
      >/dev/null && cmake --build "$dir" -j"$(nproc)" --target qf_fuzzers; } ||
    { stage_note="build failed"; return 1; }
  ctest_counted "$dir" -L fuzz -j"$(nproc)" "$@"
}

# The arm stage: cross builds for arm64 and armhf (build-arm64,
# build-armhf, cmake/toolchain/), their unit tests and seed corpora under
# qemu-user, the arm64 integration test (Debian's collectd-core:arm64 with
# our plugins, the exporter's /status) and the .debs of both (test_cross_deb).
stage_arm() {
  local a arch triplet dir rc=0
  for a in arm64:aarch64-linux-gnu armhf:arm-linux-gnueabihf; do
    arch=${a%%:*} triplet=${a#*:} dir=$top/build-$arch
    { cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug \
        --toolchain "$top/cmake/toolchain/$triplet.cmake" >/dev/null &&
        cmake --build "$dir" -j"$(nproc)"; } ||
      { stage_note="${stage_note:+$stage_note; }$arch build failed"; rc=1; continue; }
    ctest_counted "$dir" -L unit -j"$(nproc)" "$@" || rc=1
    # test_arm64 runs in the arm64 build only (it would skip in armhf's).
    ctest_counted "$dir" -R "^integration_test_($([ "$arch" = arm64 ] &&
      echo 'arm64|')cross_deb)\$" "$@" || rc=1
  done
  return "$rc"
}

print_summary() {
  local row name status secs passed failed note
  echo "==== dev.sh test: summary ===="
  printf '%-8s %-7s %7s %7s %7s  %s\n' stage status seconds passed failed note
  for row in "${stage_rows[@]}"; do
    IFS='|' read -r name status secs passed failed note <<<"$row"
    printf '%-8s %-7s %7s %7s %7s  %s\n' "$name" "$status" "$secs" \
      "$passed" "$failed" "$note"
  done
  echo "${total_passed} passed, ${total_failed} failed"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  deps)
    install_missing
    case " ${QF_STAGES:-} " in *" arm "*) install_cross ;; esac
    ;;
  build)
    build
    ;;
  check)
    check "$@"
    ;;
  run)
    install_missing
    build
    exec /usr/bin/python3 "$top/tools/demo.py" --build-dir "$build_dir" "$@"
    ;;
  test)
    install_missing
    case " ${QF_STAGES:-arm} " in *" arm "*) install_cross ;; esac
    for stage in ${QF_STAGES:-debug asan checks fuzz arm}; do
      case "$stage" in
        debug|asan|checks|fuzz|arm) run_stage "$stage" "stage_$stage" "$@" ;;
        *) echo "dev.sh: unknown stage '$stage' in QF_STAGES" >&2; exit 2 ;;
      esac
    done
    print_summary
    [ "$total_failed" -eq 0 ]
    ;;
  *)
    echo "usage: contrib/dev.sh deps|build|check|run|test [options]" >&2
    exit 2
    ;;
esac
