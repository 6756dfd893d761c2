#!/bin/bash
# CI's hardening step: a clang-19 build with AddressSanitizer + UndefinedBehaviorSanitizer and
# libFuzzer coverage (its own build dir, BUILD_DIR, default build-hardening; ccache-friendly),
# then the unit tests and the fuzz regression corpus under the sanitizers (ctest -L 'unit|fuzz'),
# then each fuzz target for FUZZ_SECONDS (default 10) from its seed corpus with a fixed seed
# (FUZZ_SEED, default 1). Any sanitizer report, failing test or fuzz finding fails the step.
# Installs clang-19 and its runtimes when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

packages=(clang-19 libclang-rt-19-dev)
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ci-hardening: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "ci-hardening: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
scripts/setup.sh

export BUILD_DIR=${BUILD_DIR:-build-hardening}
# The same objects from another checkout or build dir come from ccache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  # No -Werror here: the gcc build in scripts/test.sh holds the warning bar; clang warns on
  # other things.
  # -O1 and line tables only: about half the compile time of -O2 -g on CI's two cores, and still
  # fast enough for the tests and for fuzzing, with file:line in every report.
  CC=clang-19 CXX=clang++-19 cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DPEAPOD_FUZZ=ON -DPEAPOD_SANITIZE=address,undefined
fi
cmake --build "$BUILD_DIR" --target peapod_unit_tests peapod_fuzz_targets -j"$(nproc)"
echo "ci-hardening: built in $((SECONDS - start)) s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ctest --test-dir "$BUILD_DIR" -L 'unit|fuzz' --output-on-failure -j"$(nproc)" --timeout 300
echo "ci-hardening: unit and fuzz regression tests passed at $((SECONDS - start)) s"

# A fixed seed: CI replays the start of the same input sequence every time (run it longer by hand
# with FUZZ_SEED=1 before landing a parser change); random exploration is scripts/fuzz.sh's default.
FUZZ_SEED=${FUZZ_SEED:-1} FUZZ_NO_BUILD=1 scripts/fuzz.sh all "${FUZZ_SECONDS:-10}"
echo "ci-hardening: done in $((SECONDS - start)) s"
