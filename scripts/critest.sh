#!/bin/bash
# Kubernetes' CRI validation suite (critest, cri-tools v1.26.1) against a real peapodd, started the
# way a user starts it: its own state and run roots, a bridge + host-local + portmap + loopback CNI
# network, and the kit's local registry as the only endpoint of registry.k8s.io and gcr.io.
#   scripts/critest.sh [--build DIR] [--peapodd BINARY] [--kit DIR] [--benchmark] [critest flags...]
#   scripts/critest.sh -ginkgo.focus 'Security Context'      # a subset, by spec name
# Skips "public image with digest" (it pulls an upstream manifest by digest: no offline registry
# can serve it) and fails when any other spec fails. --benchmark runs critest's benchmark instead.
# The kit (critest and crictl binaries, a private registry on 127.0.0.1:5000 and the script that
# builds critest's images into it) is ../shared/critest beside the repository (or --kit, or
# $CRITEST_KIT); without it this prints a line saying so and exits 0.
# Needs root. It takes no lock itself: wrap it in `flock /tmp/peapod-tests.lock` on a machine
# where other test suites run. Everything it makes (pods, mounts, the bridge, cgroups, state) is
# removed at the end, even on failure; the kit's registry and its images stay for the next run.
set -euo pipefail
shopt -s inherit_errexit
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

build=${BUILD_DIR:-$repo/build}
kit=${CRITEST_KIT:-$repo/../shared/critest}
mode=conformance
peapodd=""
# Names of our own, so the suite never meets the test suite's or the benchmark's networks.
work=${PEAPOD_CRITEST_WORK:-/var/tmp/peapod-critest}
bridge=ppcritest0
subnet=10.87.0.0/16
cgroup_parent=peapod-critest
critest_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --peapodd) peapodd=$2; shift 2 ;;
    --kit) kit=$2; shift 2 ;;
    --benchmark) mode=benchmark; shift ;;
    *) critest_args+=("$1"); shift ;;
  esac
done
die() { echo "critest.sh: $*" >&2; exit 1; }

if [ ! -x "$kit/run.sh" ]; then
  echo "critest: SKIPPED: no critest kit at $kit (set CRITEST_KIT or --kit to run the CRI validation suite)"
  exit 0
fi
kit=$(cd "$kit" && pwd)
[ "$(id -u)" = 0 ] || die "run as root"
started_at=$(date +%s)

# Build what the daemon needs (a no-op after scripts/test.sh), unless given a binary to test.
if [ -z "$peapodd" ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" --target peapodd peapod-pause -j"$(nproc)" >/dev/null
  peapodd=$build/cri/peapodd
fi
[ -x "$peapodd" ] || die "$peapodd is not an executable"

socket=$work/run/peapod.sock
crictl() { /var/tmp/critest/bin/crictl -r "unix://$socket" -t 60s "$@"; }
results=${CRITEST_OUT:-/var/tmp/critest}/results

daemon_pid="" daemon_start="" registry_was_running=1
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
is_ours() { [ -n "$daemon_pid" ] && [ "$(start_time "$daemon_pid")" = "$daemon_start" ]; }

# shellcheck disable=SC2317  # reached from the EXIT trap
stop_daemon() {
  local _
  is_ours || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 100); do is_ours || return 0; sleep 0.1; done
  kill -KILL "$daemon_pid" 2>/dev/null || true
}

# portmap's chains outlive the pods whose rules they held. As the test suite does, each user
# holds /run/peapod-cni-test/portmap.lock shared, and whoever is last (gets it exclusive) removes
# the chains when no rule is left in them.
portmap_lock_fd=""
hold_portmap_lock() {
  mkdir -p /run/peapod-cni-test
  exec {portmap_lock_fd}>>/run/peapod-cni-test/portmap.lock
  flock -s "$portmap_lock_fd"
}
# shellcheck disable=SC2317  # reached from the EXIT trap
remove_idle_portmap_chains() {
  local tool rule chain
  [ -n "$portmap_lock_fd" ] && flock -xn "$portmap_lock_fd" || return 0
  for tool in iptables ip6tables; do
    "$tool" -w -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 || continue
    "$tool" -w -t nat -S CNI-HOSTPORT-DNAT | grep -q '^-A ' && continue
    "$tool" -w -t nat -S | grep -E '^-A (PREROUTING|OUTPUT|POSTROUTING) .*-j CNI-HOSTPORT-' |
      while read -r rule; do eval "$tool -w -t nat -D ${rule#-A }"; done
    for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
      "$tool" -w -t nat -F "$chain" 2>/dev/null && "$tool" -w -t nat -X "$chain" 2>/dev/null
    done
  done
}

# Removes every pod the daemon knows (a leftover of a killed earlier run included), then the daemon
# and all it left on the host. The pods go through CRI so each is torn down as kubelet would.
# shellcheck disable=SC2317  # the EXIT trap
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if is_ours && [ -x /var/tmp/critest/bin/crictl ]; then
    crictl rmp -f -a >/dev/null 2>&1 || echo "critest.sh: removing the pods failed; see $work/peapodd.log" >&2
  fi
  stop_daemon
  [ "$registry_was_running" = 1 ] || "$kit/registry.sh" stop >/dev/null
  [ -f "$work/peapodd.log" ] && mkdir -p "$results" && cp "$work/peapodd.log" "$results/peapod-peapodd.log"
  # Mounts a crashed daemon left behind (overlay roots, namespace pins), innermost first.
  awk -v w="$work/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  ip link del "$bridge" 2>/dev/null
  remove_idle_portmap_chains
  for h in /sys/fs/cgroup/*/"$cgroup_parent"; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  awk -v w="$work/" 'index($5, w) == 1 {found = 1} END {exit !found}' /proc/self/mountinfo ||
    rm -rf "$work"
  echo "critest.sh: $mode step took $(($(date +%s) - started_at)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

write_conflist() {
  mkdir -p "$work/net.d" "$work/ipam"
  cat >"$work/net.d/10-peapod-critest.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "peapod-critest",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$work/ipam",
        "ranges": [[{"subnet": "$subnet"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
    {"type": "loopback"}
  ]
}
EOF
}

start_daemon() {
  local pidfile=$work/peapodd.pid _
  mkdir -p "$work/state" "$work/run" "$work/pod-logs"
  # Its own session: a Ctrl-C reaches critest, not the daemon the cleanup still needs.
  setsid "$peapodd" --listen "$socket" --state-root "$work/state" --run-root "$work/run" \
    --cgroup-parent "$cgroup_parent" --cni-conf-dir "$work/net.d" \
    --pod-log-root "$work/pod-logs" --pid-file "$pidfile" \
    --registry-mirror registry.k8s.io=http://127.0.0.1:5000 \
    --registry-mirror gcr.io=http://127.0.0.1:5000 \
    >>"$work/peapodd.log" 2>&1 </dev/null &
  daemon_pid=$!
  daemon_start=$(start_time "$daemon_pid")
  for _ in $(seq 300); do
    if [ -S "$socket" ] && [ -s "$pidfile" ]; then
      [ "$(cat "$pidfile")" = "$daemon_pid" ] || die "peapodd runs as pid $(cat "$pidfile"), not $daemon_pid"
      return 0
    fi
    is_ours || die "peapodd exited: $(tail -n 5 "$work/peapodd.log")"
    sleep 0.1
  done
  die "peapodd did not serve $socket within 30 s: $(tail -n 5 "$work/peapodd.log")"
}

"$kit/registry.sh" status >/dev/null 2>&1 || registry_was_running=0
hold_portmap_lock
mkdir -p "$work"
: >"$work/peapodd.log"
write_conflist
start_daemon
echo "critest.sh: peapodd pid $daemon_pid on $socket (log: $results/peapod-peapodd.log)"
# A run killed before its cleanup left pods in this state root: the daemon re-adopted them.
[ -x /var/tmp/critest/bin/crictl ] && crictl rmp -f -a >/dev/null

rc=0
if [ "$mode" = benchmark ]; then
  CRITEST_NAME=peapod "$kit/run.sh" benchmark "unix://$socket" "${critest_args[@]}" || rc=$?
else
  CRITEST_NAME=peapod "$kit/run.sh" conformance "unix://$socket" \
    -ginkgo.skip 'public image with digest' "${critest_args[@]}" || rc=$?
  # ginkgo counts critest's benchmark specs as skipped too; they belong to --benchmark.
  report=$results/peapod-critest.json
  if [ -s "$report" ]; then
    jq -r '[.[] | .SpecReports[] | select(.LeafNodeType == "It" and .State == "skipped")
            | (.ContainerHierarchyTexts + [.LeafNodeText]) | join(" ")
            | select(test("benchmark") | not)]
           | "critest.sh: skipped (not counting the benchmark specs): \(length)" +
             (if length > 0 and length <= 3 then " (" + join("; ") + ")" else "" end)' "$report"
  fi
fi
exit "$rc"
