#!/bin/bash
# Installs what peapod needs, builds everything and runs every test (unit, integration, e2e).
# Needs root: the tests use real namespaces, mounts, cgroups, CNI plugins and a local registry.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

build_dir=${BUILD_DIR:-build}
werror=OFF
if [ -n "${CI:-}" ]; then werror=ON; fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPEAPOD_WERROR="$werror"
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600 "$@"
