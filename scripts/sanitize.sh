#!/bin/bash
# Builds peapod with clang-19 sanitizers and runs the test suites under them:
#   scripts/sanitize.sh [asan|tsan] [ctest arguments...]
#
# asan: AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer, in the build dir
#   scripts/ci-hardening.sh uses (BUILD_DIR, default build-hardening, same flags, so either
#   script reuses the other's objects); runs the unit, integration and e2e tests
#   (ctest -L 'unit|integration|e2e' unless ctest arguments are given).
# tsan: ThreadSanitizer (BUILD_DIR, default build-tsan); runs the unit tests and the integration
#   tests where threads meet: the CRI server and its streaming server, the pod controller's
#   workers, the event stream, concurrent CRI calls, exec and attach.
#
# A report from the test binary itself aborts it; one from a peapodd or peapod it started is
# found in that process's stderr by the fixtures (tests/support/sanitizer_report.h). Either
# fails the test. Needs root, as scripts/test.sh does. Wrap it in `flock /tmp/peapod-tests.lock`
# where other test suites share the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-asan}
shift || true

# The integration tests where threads meet, for ThreadSanitizer; the rest would only re-test
# single-threaded kernel plumbing at TSan's cost.
tsan_integration=(cri_server_test cri_concurrency_test cri_streaming_test cri_attach_test
  cri_container_test cri_stats_test controller_lifecycle_test controller_probe_test
  controller_pod_spec_test agent_container_test runtime_exec_test)

for tool in clang-19 clang++-19; do
  command -v "$tool" >/dev/null || {
    echo "sanitize: $tool not found (apt-get install clang-19 libclang-rt-19-dev)" >&2
    exit 1
  }
done
# The same objects from another checkout or build dir come from ccache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
# -O1 and line tables only: about half the compile time of -O2 -g, file:line in every report.
flags=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only"
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only")

case "$mode" in
  asan)
    build_dir=${BUILD_DIR:-build-hardening}
    # PEAPOD_FUZZ as in scripts/ci-hardening.sh: the same objects serve both.
    flags+=(-DPEAPOD_FUZZ=ON -DPEAPOD_SANITIZE=address,undefined)
    targets=(peapod_unit_tests peapod_integration_tests peapod_e2e_tests)
    default_ctest=(-L 'unit|integration|e2e')
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    ;;
  tsan)
    build_dir=${BUILD_DIR:-build-tsan}
    flags+=(-DPEAPOD_SANITIZE=thread)
    targets=(peapod_unit_tests)
    for t in "${tsan_integration[@]}"; do targets+=("integration_$t"); done
    default_ctest=(-L unit)
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    ;;
  *)
    echo "usage: scripts/sanitize.sh [asan|tsan] [ctest arguments...]" >&2
    exit 2
    ;;
esac

start=$SECONDS
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S . -B "$build_dir" "${flags[@]}"
fi
cmake --build "$build_dir" --target "${targets[@]}" -j"$(nproc)"
echo "sanitize $mode: built in $((SECONDS - start)) s"

if [ $# -gt 0 ]; then
  ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900 "$@"
else
  ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900 "${default_ctest[@]}"
  if [ "$mode" = tsan ]; then
    # ctest labels a test by its folder only: the chosen integration binaries run directly.
    for t in "${tsan_integration[@]}"; do
      echo "sanitize tsan: integration_$t"
      (cd "$build_dir/tests" && "./integration_$t")
    done
  fi
fi
echo "sanitize $mode: passed in $((SECONDS - start)) s"
