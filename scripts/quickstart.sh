#!/bin/bash
# The whole demo on a fresh Debian 12 machine, as root: install dependencies, build peapod,
# build the demo images from Debian packages, start peapodd in the background, load the images,
# apply manifests/examples/confd-nginx.yaml (etcd + a confd sidecar + nginx on hostPort 8080 +
# two backends), wait for the pod to be Ready, show it serving, switch its upstream through etcd
# and show nginx following without a restart.
#
# Re-running is safe: a peapodd this script started before is stopped (its pods keep running)
# and started again from the fresh build, which re-adopts them; the apply is then "unchanged".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j"$(nproc)" --target peapodd peapod peapod-pause
scripts/images/build.sh "$build_dir/images" busybox nginx etcd

peapod="$root/$build_dir/cli/peapod"
peapodd="$root/$build_dir/cri/peapodd"
socket=${PEAPOD_SOCKET:-/run/peapod/peapod.sock}
export PEAPOD_SOCKET=$socket
pidfile=/run/peapod/peapodd.pid
log=/var/log/peapodd.log
manifest=manifests/examples/confd-nginx.yaml

alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# The interim demo of earlier versions held hostPort 8080.
if [ -f /run/peapod-demo/demo.pid ] && kill -0 "$(cat /run/peapod-demo/demo.pid)" 2>/dev/null; then
  echo "quickstart: stopping the old peapod-demo (pid $(cat /run/peapod-demo/demo.pid))"
  kill "$(cat /run/peapod-demo/demo.pid)"
  while kill -0 "$(cat /run/peapod-demo/demo.pid)" 2>/dev/null; do sleep 0.2; done
fi

# A peapodd from an earlier run: stop it by its pid file. Pods keep running; the new one adopts them.
if alive; then
  pid=$(cat "$pidfile")
  echo "quickstart: restarting peapodd (pid $pid) with this build"
  kill "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "quickstart: peapodd (pid $pid) did not stop; see $log" >&2
    exit 1
  fi
fi

mkdir -p /run/peapod "$(dirname "$log")"
# Short CrashLoopBackOff for a development node (kubelet: 10s doubling to 5m).
"$peapodd" --listen "$socket" --pid-file "$pidfile" \
  --cni-conf-dir "$root/scripts/cni" --backoff-initial 2s --backoff-max 1m \
  >>"$log" 2>&1 </dev/null &
daemon=$!
echo "quickstart: peapodd starting (pid $daemon, log $log, socket $socket)"
for _ in $(seq 100); do
  "$peapod" version >/dev/null 2>&1 && break
  if ! kill -0 "$daemon" 2>/dev/null; then
    echo "quickstart: peapodd exited during start-up:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  sleep 0.2
done
"$peapod" version

# The images are docker.io/library/{busybox,nginx,etcd}:latest; the manifest asks for them with
# imagePullPolicy IfNotPresent, so nothing is pulled from the network.
for image in busybox nginx etcd; do
  "$peapod" load -i "$build_dir/images/$image.oci.tar"
done

echo
echo "\$ peapod apply -f $manifest"
"$peapod" apply -f "$manifest"

echo "quickstart: waiting for pod demo to be Ready"
ready=""
for _ in $(seq 240); do
  ready=$("$peapod" get pod demo -o json |
    jq -r '.status.conditions // [] | map(select(.type == "Ready"))[0].status // ""')
  [ "$ready" = True ] && break
  sleep 0.5
done
if [ "$ready" != True ]; then
  echo "quickstart: pod demo is not Ready after 2 minutes:" >&2
  "$peapod" describe pod demo >&2
  exit 1
fi

# Waits until curl answers with TEXT (nginx reloads within moments of the etcd change).
expect_page() {  # TEXT
  local page=""
  for _ in $(seq 50); do
    page=$(curl -sS --max-time 2 http://127.0.0.1:8080/ 2>/dev/null || true)
    [ "$page" = "$1" ] && break
    sleep 0.2
  done
  echo "$page"
  [ "$page" = "$1" ]
}

echo
"$peapod" exec demo -c etcd -- etcdctl put /demo/upstream 127.0.0.1:8081 >/dev/null
echo "\$ curl http://127.0.0.1:8080/"
expect_page "hello from blue"
echo
echo "\$ peapod exec demo -c etcd -- etcdctl put /demo/upstream 127.0.0.1:8082"
"$peapod" exec demo -c etcd -- etcdctl put /demo/upstream 127.0.0.1:8082
echo "\$ curl http://127.0.0.1:8080/"
expect_page "hello from green"
echo
echo "\$ peapod logs demo -c confd --tail 4"
"$peapod" logs demo -c confd --tail 4
echo
echo "\$ peapod get pods"
"$peapod" get pods

cat <<EOF

peapodd keeps supervising the pod (pid $(cat "$pidfile"), log $log). With the CLI on your PATH:
  export PATH="$root/$build_dir/cli:\$PATH"
  peapod describe pod demo
  peapod exec demo -c etcd -- etcdctl put /demo/upstream 127.0.0.1:8081   # back to blue
  peapod apply -f manifests/examples/          # more examples: probes, crash loop, a machine
Stop it:
  peapod delete -f $manifest     # the pod, gracefully
  kill \$(cat $pidfile)        # the agent (pods it still runs keep running)
EOF
