#!/bin/bash
# peapod side by side with containerd 1.6 + runc (Debian's), in one run, through the same CRI
# client (peapod_cri_bench), the same CNI conflist, the same busybox image and registry.
#   bench/compare.sh [--rounds 3] [--cycles 10] [--parallel 10] [--parallel-cycles 2]
#                    [--density 100] [--cni-iterations 20] [--build DIR] [--out DIR]
#                    [--peapodd BINARY]   (default: BUILD/cri/peapodd)
#                    [--state-tmpfs]      both daemons' persistent roots on tmpfs too: every fsync
#                                         free, so what is left is each runtime's own work
#                    [--critest-rounds 2] critest's own benchmark (the kit in ../shared/critest, or
#                                         $CRITEST_KIT), interleaved the same way; 0 skips it
# Prepare once with bench/setup-peers.sh. Starts a private peapodd and the private containerd
# (their own roots and sockets, see bench/peers.env), measures the CNI floor, runs the two
# interleaved (peapod, containerd, peapod, containerd, ... `--rounds` times) so machine drift
# cancels, then critest's benchmark (100 pod and 100 container lifecycles, 20 image pulls per
# run) interleaved likewise, then the density run of each, and prints the tables with the ratio
# peapod/containerd. Writes OUT/compare.json (figures + statistics), OUT/*.json (raw samples per
# run), OUT/critest/ (critest's data per run, critest-bench.json) and OUT/medians.png. At the end, even on failure or Ctrl-C, it removes every pod it made and stops
# the daemons (and the registry) it started, by the pids it started them with.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/peers.env
source "$here/peers.env"

rounds=3 cycles=10 parallel=10 parallel_cycles=2 density=100 cni_iterations=20 critest_rounds=2
critest_kit=${CRITEST_KIT:-$repo/../shared/critest}
build=$repo/build
peapodd_override="" state_tmpfs=0 state_mounts=()
out=$BENCH_ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)
die() { echo "compare.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2 ;;
    --cycles) cycles=$2 ;;
    --parallel) parallel=$2 ;;
    --parallel-cycles) parallel_cycles=$2 ;;
    --density) density=$2 ;;
    --cni-iterations) cni_iterations=$2 ;;
    --critest-rounds) critest_rounds=$2 ;;
    --build) build=$(cd "$2" && pwd) ;;
    --peapodd) peapodd_override=$2 ;;
    --state-tmpfs) state_tmpfs=1; shift; continue ;;
    --out) out=$2 ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
  shift 2
done
[ "$(id -u)" = 0 ] || die "run as root"
if [ "$critest_rounds" -gt 0 ] && [ ! -x "$critest_kit/run.sh" ]; then
  echo "compare.sh: no critest kit at $critest_kit: critest's benchmark is skipped"
  critest_rounds=0
fi
client=$build/bench/peapod_cri_bench
cni_bench=$build/cni/cni_add_del_bench
peapodd=${peapodd_override:-$build/cri/peapodd}
for f in "$client" "$cni_bench" "$peapodd"; do
  [ -x "$f" ] || die "$f missing: cmake -DPEAPOD_BUILD_BENCH=ON and ninja peapodd peapod_cri_bench cni_add_del_bench"
done
[ -f "$BENCH_CONTAINERD_CONFIG" ] || die "$BENCH_CONTAINERD_CONFIG missing: run bench/setup-peers.sh first"
command -v containerd >/dev/null || die "containerd missing: run bench/setup-peers.sh first"
for sock in "$BENCH_PEAPOD_SOCKET" "$BENCH_CONTAINERD_SOCKET"; do
  ! ss -xlH | grep -qF " $sock " || die "something already serves $sock; stop it first"
done
mkdir -p "$out" "$BENCH_LOG_ROOT"
out=$(cd "$out" && pwd)

peapod_pid="" peapod_start="" containerd_pid="" containerd_start="" registry_started=0 bridge_existed=0 run_mounted=0
critest_registry_started=0
ip link show peapod0 >/dev/null 2>&1 && bridge_existed=1
shim_dir_existed=0
[ -e /run/containerd ] && shim_dir_existed=1
# The cgroup parents the two daemons make (peapodd's --cgroup-parent, containerd's k8s.io): the
# ones that did not exist before this run are removed at the end, once empty.
new_cgroup_dirs=()
for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -f "$h/cgroup.procs" ] || continue  # a hierarchy's root (not the tmpfs holding v1 mounts)
  for n in peapod-bench k8s.io; do [ -e "$h/$n" ] || new_cgroup_dirs+=("$h/$n"); done
done

# A process's start time (clock ticks since boot): with the pid, it names the process for good.
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
# Is PID still the process we started (same start time), so a recycled pid is never signalled?
is_ours() {  # PID START_TIME
  [ -n "$1" ] && [ -n "$2" ] && [ "$(start_time "$1")" = "$2" ]
}
stop_pid() {  # PID START_TIME
  local _
  is_ours "$1" "$2" || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do is_ours "$1" "$2" || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
# Pods a failed critest run left in one of our private daemons (every pod there is ours).
critest_leftovers() {  # SOCKET
  local crictl=${CRITEST_OUT:-/var/tmp/critest}/bin/crictl
  [ "$critest_rounds" -gt 0 ] && [ -x "$crictl" ] || return 0
  "$crictl" -r "unix://$1" -t 60s rmp -f -a >/dev/null 2>&1
}
cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  echo "compare.sh: cleaning up"
  if is_ours "$peapod_pid" "$peapod_start"; then
    "$client" cleanup --socket "$BENCH_PEAPOD_SOCKET"
    critest_leftovers "$BENCH_PEAPOD_SOCKET"
  fi
  if is_ours "$containerd_pid" "$containerd_start"; then
    "$client" cleanup --socket "$BENCH_CONTAINERD_SOCKET"
    critest_leftovers "$BENCH_CONTAINERD_SOCKET"
  fi
  stop_pid "$peapod_pid" "$peapod_start"
  stop_pid "$containerd_pid" "$containerd_start"
  # Shims our containerd started and that outlived a failed cleanup: each wrote its pid into our
  # private state dir; signalled only while that pid is still a shim serving our socket.
  for f in "$BENCH_CONTAINERD_STATE"/io.containerd.runtime.v2.task/*/*/shim.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/bin/containerd-shim-runc-v2 ] &&
       tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-address $BENCH_CONTAINERD_SOCKET"; then
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  [ "$registry_started" = 1 ] && "$repo/scripts/images/registry.sh" stop "$BENCH_REGISTRY_DIR"
  [ "$critest_registry_started" = 1 ] && "$critest_kit/registry.sh" stop >/dev/null
  [ "$bridge_existed" = 1 ] || ip link del peapod0 2>/dev/null
  # containerd 1.6 puts shim sockets in /run/containerd/s whatever its config says.
  [ "$shim_dir_existed" = 1 ] || rmdir /run/containerd/s /run/containerd 2>/dev/null
  for m in "${state_mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
  if [ "$run_mounted" = 1 ]; then umount "$BENCH_RUN" 2>/dev/null || umount -l "$BENCH_RUN"; fi
  rm -rf "${BENCH_LOG_ROOT:?}"/*
  for d in "${new_cgroup_dirs[@]}"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_socket() {  # SOCKET PID NAME LOG
  local _
  for _ in $(seq 300); do
    [ -S "$1" ] && return 0
    [ -d "/proc/$2" ] || die "$3 exited: $(tail -n 5 "$4")"
    sleep 0.1
  done
  die "$3 did not create $1 within 30 s: $(tail -n 5 "$4")"
}

if ! curl -fs -o /dev/null "http://127.0.0.1:$BENCH_REGISTRY_PORT/v2/"; then
  "$repo/scripts/images/registry.sh" start "$BENCH_REGISTRY_DIR" "$BENCH_REGISTRY_PORT"
  registry_started=1
fi

# Runtime state on tmpfs, as /run is on a real node (on some hosts, containers among them, /run
# is a plain disk directory, and every fsync of a pod file there would count against both).
mkdir -p "$BENCH_RUN"
if [ "$(stat -f -c %T "$BENCH_RUN")" != tmpfs ]; then
  mount -t tmpfs -o mode=0755,size=1g peapod-bench "$BENCH_RUN"
  run_mounted=1
fi
mkdir -p "$BENCH_PEAPOD_ROOT" "$BENCH_PEAPOD_RUN" "$BENCH_CONTAINERD_ROOT"
if [ "$state_tmpfs" = 1 ]; then
  for m in "$BENCH_PEAPOD_ROOT" "$BENCH_CONTAINERD_ROOT"; do
    mount -t tmpfs -o mode=0711,size=4g peapod-bench "$m"
    state_mounts+=("$m")
  done
fi
# Each daemon in its own session, so a Ctrl-C of this script reaches the client (whose pods the
# cleanup then removes) but not the daemons the cleanup needs. Prints the daemon's pid.
spawn_daemon() {  # LOG CMD...
  local log=$1 pidfile _
  shift
  pidfile=$(mktemp)
  # shellcheck disable=SC2016
  setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" "$@" >"$log" 2>&1 </dev/null &
  for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.05; done
  cat "$pidfile"
  rm -f "$pidfile"
}
peapod_pid=$(spawn_daemon "$out/peapodd.log" "$peapodd" --listen "$BENCH_PEAPOD_SOCKET" \
  --state-root "$BENCH_PEAPOD_ROOT" --run-root "$BENCH_PEAPOD_RUN" \
  --cgroup-parent peapod-bench \
  --cni-conf-dir "$BENCH_CNI_CONF_DIR" --cni-plugin-dirs "$BENCH_CNI_BIN_DIR" \
  --registry-mirror "docker.io=http://127.0.0.1:$BENCH_REGISTRY_PORT" \
  --registry-mirror "registry.k8s.io=http://$BENCH_CRITEST_REGISTRY" \
  --registry-mirror "gcr.io=http://$BENCH_CRITEST_REGISTRY" --log-level warn)
peapod_start=$(start_time "$peapod_pid")
containerd_pid=$(spawn_daemon "$out/containerd.log" containerd --config "$BENCH_CONTAINERD_CONFIG")
containerd_start=$(start_time "$containerd_pid")
[ -n "$peapod_start" ] || die "peapodd did not start: $(tail -n 5 "$out/peapodd.log")"
[ -n "$containerd_start" ] || die "containerd did not start: $(tail -n 5 "$out/containerd.log")"
wait_socket "$BENCH_PEAPOD_SOCKET" "$peapod_pid" peapodd "$out/peapodd.log"
wait_socket "$BENCH_CONTAINERD_SOCKET" "$containerd_pid" containerd "$out/containerd.log"
echo "compare.sh: peapodd pid $peapod_pid, containerd pid $containerd_pid ($(containerd --version | cut -d' ' -f3)), results in $out"

echo "== CNI floor: the same conflist through the plugins directly, $cni_iterations ADD+DEL"
"$cni_bench" "$cni_iterations" --conf-dir "$BENCH_CNI_CONF_DIR" --json "$out/cni.json"

run_one() {  # NAME SOCKET PID HELPER ROUND DENSITY
  echo "== $1, round $5"
  "$client" run --name "$1" --socket "$2" --daemon-pid "$3" --helper-exe "$4" \
    --log-root "$BENCH_LOG_ROOT" --cycles "$cycles" --parallel "$parallel" \
    --parallel-cycles "$parallel_cycles" --density "$6" --json "$out/$1-$5.json"
}
a_files="" b_files=""
for r in $(seq "$rounds"); do
  run_one peapod "$BENCH_PEAPOD_SOCKET" "$peapod_pid" peapod-pause "$r" 0
  run_one containerd "$BENCH_CONTAINERD_SOCKET" "$containerd_pid" containerd-shim-runc-v2 "$r" 0
  a_files+=${a_files:+,}$out/peapod-$r.json
  b_files+=${b_files:+,}$out/containerd-$r.json
done
# critest's benchmark through the kit's run.sh (it builds critest's images into its registry the
# first time); each run's data is kept under OUT/critest as NAME-rROUND.
critest_one() {  # NAME SOCKET ROUND
  local results=${CRITEST_OUT:-/var/tmp/critest}/results
  echo "== critest benchmark, $1, round $3"
  # A failed run (critest gives up when an operation takes over a minute, as on an overloaded
  # machine) is reported and left out of the medians; the other rounds still count.
  if ! CRITEST_NAME="$1-r$3" "$critest_kit/run.sh" benchmark "unix://$2" \
    >"$out/critest/$1-r$3.txt" 2>&1; then
    echo "compare.sh: critest's benchmark failed against $1 in round $3 (left out):" \
      "$(grep -m1 -E 'panic:|\[FAILED\]' "$out/critest/$1-r$3.txt")"
    critest_leftovers "$2"
    return 0
  fi
  cp -r "$results/$1-r$3-bench" "$out/critest/$1-r$3"
  cp "$results/$1-r$3-bench.json" "$out/critest/$1-r$3.json"
}
if [ "$critest_rounds" -gt 0 ]; then
  mkdir -p "$out/critest"
  "$critest_kit/registry.sh" status >/dev/null 2>&1 || critest_registry_started=1
  for r in $(seq "$critest_rounds"); do
    critest_one peapod "$BENCH_PEAPOD_SOCKET" "$r"
    critest_one containerd "$BENCH_CONTAINERD_SOCKET" "$r"
  done
fi
if [ "$density" -gt 0 ]; then
  # Density once each (no timed cycles): N pods held, memory and List calls measured.
  for spec in "peapod $BENCH_PEAPOD_SOCKET $peapod_pid peapod-pause" \
              "containerd $BENCH_CONTAINERD_SOCKET $containerd_pid containerd-shim-runc-v2"; do
    read -r name sock pid helper <<<"$spec"
    echo "== $name, density $density"
    "$client" run --name "$name" --socket "$sock" --daemon-pid "$pid" --helper-exe "$helper" \
      --log-root "$BENCH_LOG_ROOT" --cycles 0 --parallel "$parallel" --parallel-cycles 0 \
      --density "$density" --json "$out/$name-density.json"
  done
  a_files+=,$out/peapod-density.json
  b_files+=,$out/containerd-density.json
fi

echo
echo "== peapod / containerd: $rounds interleaved rounds of $cycles cycles one pod at a time and" \
  "$parallel x $parallel_cycles in parallel; density $density pods"
"$client" report --a "peapod=$a_files" --b "containerd=$b_files" --cni "$out/cni.json" \
  --json "$out/compare.json" --plot-data "$out/medians.dat" | tee "$out/table.txt"
if [ "$critest_rounds" -gt 0 ]; then
  echo
  echo "== critest's benchmark: $critest_rounds interleaved rounds of each"
  "$here/critest-report.sh" "$out/critest" | tee -a "$out/table.txt"
fi

if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 1000,520 font "sans,10"
set output "$out/medians.png"
set title "CRI phases, median ms, one pod at a time (lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "ms"
set xtics rotate by -30
set grid ytics
set key top right
plot "$out/medians.dat" using 2:xtic(1) title "peapod" lc rgb "#2a9d8f", \
     "" using 3 title "containerd 1.6 + runc" lc rgb "#e76f51"
EOF
  echo "chart: $out/medians.png"
fi
echo "json: $out/compare.json"
