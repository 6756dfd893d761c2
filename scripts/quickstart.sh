#!/bin/bash
# The whole demo on a fresh Debian 12 machine, as root: install dependencies, build, build the demo
# images from Debian packages, start a pod (pause + CNI network with hostPort 8080 + nginx from
# the demo image, on an overlay root, in its own cgroup) and show it serving.
#
# Until peapodd and `peapod apply` exist, the pod is run by build/cli/peapod-demo, which uses the
# same runtime, CNI and image libraries the agent will use. Stop it with:
#   kill "$(cat /run/peapod-demo/demo.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j"$(nproc)" --target peapod-demo peapod-pause
scripts/images/build.sh "$build_dir/images" nginx busybox

run=/run/peapod-demo
pidfile=$run/demo.pid
log=/var/log/peapod-demo.log
port=${PORT:-8080}
mkdir -p "$run"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "quickstart: stopping the previous demo (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.2; done
fi
rm -f "$run/ready"
"$build_dir/cli/peapod-demo" --images "$build_dir/images" --host-port "$port" \
  --ready-file "$run/ready" >"$log" 2>&1 &
echo $! >"$pidfile"
echo "quickstart: demo pod starting (pid $(cat "$pidfile"), log $log)"

for _ in $(seq 150); do
  [ -s "$run/ready" ] && break
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "quickstart: the demo pod failed to start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done
[ -s "$run/ready" ] || { echo "quickstart: no answer after 30 s; see $log" >&2; exit 1; }

echo
echo "\$ curl http://127.0.0.1:$port/"
curl -sS "http://127.0.0.1:$port/"
echo
cat "$log"
echo
echo "The pod keeps serving. Stop it (and remove everything it made) with:"
echo "  kill \$(cat $pidfile)"
