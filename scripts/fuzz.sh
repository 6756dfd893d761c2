#!/bin/bash
# Runs peapod's fuzz targets (tests/fuzz) with libFuzzer: scripts/fuzz.sh [TARGET|all] [SECONDS].
# Configures a clang-19 build with ASan+UBSan and libFuzzer (BUILD_DIR, default build-fuzz),
# builds the targets and runs each for SECONDS (default 60) from a working copy of its seed
# corpus (the repo's corpus is never written). A crash, leak, timeout or out-of-memory input is
# kept in $BUILD_DIR/fuzz/artifacts/<target>/ and fails the run; make it a regression by copying
# it to tests/fuzz/regressions/<target>/ once fixed. Prints execs and findings per target.
#
# Environment: BUILD_DIR; FUZZ_JOBS (parallel libFuzzer jobs per target, default 1);
# FUZZ_SKIP (space-separated targets "all" leaves out, default none);
# FUZZ_SEED (libFuzzer's -seed; unset, a random one per run); FUZZ_ARGS (more libFuzzer flags);
# FUZZ_NO_BUILD=1 runs the binaries as they are.
#
# With FUZZ_SEED set, a run is the first SECONDS of one fixed sequence of inputs: CI uses seed 1,
# so anything CI could find, a longer run by hand with FUZZ_SEED=1 finds first, and CI does not
# fail at random on a finding nobody has looked at. Exploration runs leave it unset.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-60}
build_dir=${BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
skip=" ${FUZZ_SKIP-} "

for tool in clang-19 clang++-19; do
  command -v "$tool" >/dev/null || {
    echo "fuzz: $tool not found (apt-get install clang-19 libclang-rt-19-dev)" >&2
    exit 1
  }
done

# The same objects from another checkout or build dir (scripts/ci-hardening.sh) come from ccache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S . -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPEAPOD_FUZZ=ON -DPEAPOD_SANITIZE=address,undefined
fi
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  cmake --build "$build_dir" --target peapod_fuzz_targets -j"$(nproc)"
fi

targets=()
if [ "$target" = all ]; then
  for src in tests/fuzz/*.cpp; do
    name=$(basename "$src" .cpp)
    [ "$name" = replay_main ] && continue
    if [[ "$skip" == *" $name "* ]]; then
      echo "fuzz: skipping $name (FUZZ_SKIP)"
      continue
    fi
    targets+=("$name")
  done
else
  [ -f "tests/fuzz/$target.cpp" ] || { echo "fuzz: no target tests/fuzz/$target.cpp" >&2; exit 2; }
  targets=("$target")
fi

# Leaks are findings too; a slow input (10 s) or one that takes 2 GiB is one.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

summary=()
failed=0
for name in "${targets[@]}"; do
  work="$build_dir/fuzz/corpus/$name"
  artifacts="$build_dir/fuzz/artifacts/$name"
  log="$build_dir/fuzz/$name.log"
  mkdir -p "$work" "$artifacts"
  seeds=()
  for dir in "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name"; do
    [ -d "$dir" ] && seeds+=("$dir")
  done
  dict=()
  seed=()
  if [ -n "${FUZZ_SEED:-}" ]; then
    # The same sequence needs the same start: only the repo's corpus, not what earlier runs kept.
    seed=(-seed="$FUZZ_SEED")
    rm -rf "$work"
    mkdir -p "$work"
  fi
  [ -f "tests/fuzz/dicts/$name.dict" ] && dict=(-dict="tests/fuzz/dicts/$name.dict")
  before=$(find "$artifacts" -type f | wc -l)
  echo "fuzz: $name for ${seconds}s (log: $log)"
  rc=0
  # -jobs writes one log per job (fuzz-N.log); with 1 job it runs in this process.
  if [ "$jobs" -gt 1 ]; then
    extra=(-jobs="$jobs" -workers="$jobs")
  else
    extra=()
  fi
  # shellcheck disable=SC2086
  "$build_dir/tests/fuzz/fuzz_$name" "$work" "${seeds[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" "${seed[@]}" "${extra[@]}" \
    ${FUZZ_ARGS:-} \
    >"$log" 2>&1 || rc=$?
  execs=$( (grep -h 'stat::number_of_executed_units' "$log" fuzz-*.log 2>/dev/null || true) |
          awk '{s += $2} END {print s + 0}')
  found=$(( $(find "$artifacts" -type f | wc -l) - before ))
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "fuzz: $name FAILED (exit $rc, $found new artifacts in $artifacts):"
    grep -m5 -E 'ERROR|runtime error|Test unit written|SUMMARY' "$log" || tail -20 "$log"
  fi
  summary+=("$(printf '%-18s %12s execs %3s findings' "$name" "$execs" "$found")")
done

echo "fuzz: summary (${seconds}s each)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
