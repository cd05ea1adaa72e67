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
#   Every stage runs even when an earlier one failed; a summary with each
#   stage's time follows, then one "N passed, N failed" line (tests, plus
#   one failure per stage that broke before its tests). ctest options apply
#   to every stage. QF_STAGES (default "debug asan checks fuzz") picks stages.
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
  # promtool (Debian's prometheus package) checks the /metrics exposition
  prometheus
  # reliability checks: sanitizers (gcc's libasan comes with gcc), valgrind,
  # static analysis, libFuzzer (clang + its runtime), symbolised reports
  valgrind cppcheck clang-tidy clang libclang-rt-14-dev llvm
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

build() {
  cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}

# check's integration tests: the quick ones (a few seconds each), which
# still start the real collectd and exporter. `test` runs them all.
CHECK_TESTS='^integration_test_(schemas|harness|manpage|contrib|migrate|demo|sanitize)$'

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
    for stage in ${QF_STAGES:-debug asan checks fuzz}; do
      case "$stage" in
        debug|asan|checks|fuzz) run_stage "$stage" "stage_$stage" "$@" ;;
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
