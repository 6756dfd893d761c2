#!/bin/bash
# Prepares the peer peapod is compared with: Debian's containerd 1.6 + runc + its CRI plugin, in a
# private configuration that never touches a system containerd (own root, state, sockets, CNI conf
# dir, no systemd unit started). Also builds the bench images and pushes them to a private local
# registry (Debian's docker-registry on 127.0.0.1:$BENCH_REGISTRY_PORT):
#   docker.io/library/busybox:latest   the benchmark workload (`sleep`), for both runtimes
#   127.0.0.1:PORT/peapod/pause:latest containerd's sandbox_image, made from our static peapod-pause
# Idempotent. Run as root from the repository, after building (peapod-pause is needed):
#   bench/setup-peers.sh [BUILD_DIR]        (default: build)
#
# What this host needed (Debian 12 packages, kernel 6.x, hybrid cgroups: v1 controllers plus a v2
# hierarchy on /sys/fs/cgroup/unified; root without CAP_SYS_RESOURCE; nofile hard limit 20000):
#   - restrict_oom_score_adj = true: the CRI plugin gives sandboxes oom_score_adj -998, which only
#     a process with CAP_SYS_RESOURCE may set; restricted, it is clamped to containerd's own value.
#   - SystemdCgroup = false (cgroupfs): there is no systemd here; runc then uses the v1 hierarchies
#     (containerd and runc both treat a hybrid host as v1).
#   - the debug/metrics listeners off, the "opt" plugin disabled and runc's state root moved into
#     our state dir, so nothing lands in /opt/containerd or /var/lib/containerd. One thing 1.6
#     cannot move: its shims' sockets, /run/containerd/s/<sha256 of our socket and the id>; they
#     never collide with a system containerd's, and compare.sh removes the directories it made.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/peers.env
source "$here/peers.env"

die() { echo "setup-peers.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
build=${1:-$repo/build}
pause_bin="$build/pause/peapod-pause"
[ -x "$pause_bin" ] || die "$pause_bin missing: build peapod first (ninja -C $build peapod-pause peapodd)"

# 1. Packages. A policy-rc.d keeps the packages' scripts from starting the system containerd.
packages=(containerd runc gnuplot-nox containernetworking-plugins docker-registry jq curl)
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
  echo "setup-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi
echo "setup-peers: $(containerd --version); $(runc --version | head -n1)"

# 2. The CNI network both runtimes use: the same conflist, in a private conf dir.
mkdir -p "$BENCH_CNI_CONF_DIR"
cp "$repo/scripts/cni/10-peapod.conflist" "$BENCH_CNI_CONF_DIR/10-peapod.conflist"

# 3. The private containerd configuration.
mkdir -p "$BENCH_CONTAINERD_ROOT" "$BENCH_CONTAINERD_STATE" "$(dirname "$BENCH_CONTAINERD_CONFIG")"
cat >"$BENCH_CONTAINERD_CONFIG" <<EOF
# Written by peapod's bench/setup-peers.sh: a private containerd for benchmarks only.
version = 2
root = "$BENCH_CONTAINERD_ROOT"
state = "$BENCH_CONTAINERD_STATE"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$BENCH_CONTAINERD_SOCKET"
[ttrpc]
  address = "$BENCH_CONTAINERD_SOCKET.ttrpc"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "127.0.0.1:$BENCH_REGISTRY_PORT/peapod/pause:latest"
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$BENCH_CONTAINERD_STATE/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$BENCH_CNI_BIN_DIR"
    conf_dir = "$BENCH_CNI_CONF_DIR"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$BENCH_CONTAINERD_CERTS_D"
EOF
# Registry hosts: docker.io and the registry itself both served by the local registry only (set
# as the server, not merely a mirror, so nothing falls back to the internet).
for host in docker.io "127.0.0.1:$BENCH_REGISTRY_PORT"; do
  mkdir -p "$BENCH_CONTAINERD_CERTS_D/$host"
  printf 'server = "http://127.0.0.1:%s"\n\n[host."http://127.0.0.1:%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$BENCH_REGISTRY_PORT" "$BENCH_REGISTRY_PORT" >"$BENCH_CONTAINERD_CERTS_D/$host/hosts.toml"
done
# critest's benchmark names its images registry.k8s.io/... and gcr.io/...: the critest kit's
# registry serves them, again as the only endpoint (compare.sh gives peapodd the same mirrors).
for host in registry.k8s.io gcr.io; do
  mkdir -p "$BENCH_CONTAINERD_CERTS_D/$host"
  printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$BENCH_CRITEST_REGISTRY" "$BENCH_CRITEST_REGISTRY" >"$BENCH_CONTAINERD_CERTS_D/$host/hosts.toml"
done
echo "setup-peers: wrote $BENCH_CONTAINERD_CONFIG"

# 4. Images: busybox from our builder, the pause image from our peapod-pause; both pushed.
"$repo/scripts/images/build.sh" "$BENCH_IMAGES_DIR" busybox >/dev/null
pause_layout="$BENCH_IMAGES_DIR/pause"
if [ ! -f "$pause_layout/index.json" ] || ! cmp -s "$pause_bin" "$BENCH_IMAGES_DIR/.pause-binary"; then
  WORK=$(mktemp -d)
  # shellcheck source=scripts/images/oci-layout.sh
  source "$repo/scripts/images/oci-layout.sh"
  mkdir -p "$WORK/rootfs"
  install -m 0755 "$pause_bin" "$WORK/rootfs/pause"
  make_layer pause "$WORK/rootfs"
  rm -rf "$pause_layout" && mkdir -p "$pause_layout"
  desc=$(put_image "$pause_layout" "$(jq -cn --arg a "$(dpkg --print-architecture)" '{architecture: $a, os: "linux"}')" \
    '{"Entrypoint":["/pause"],"WorkingDir":"/"}' pause)
  finish_layout "$pause_layout" pause latest "$desc"
  cp "$pause_bin" "$BENCH_IMAGES_DIR/.pause-binary"
  rm -rf "$WORK"
fi
registry_was_running=0
if curl -fs -o /dev/null "http://127.0.0.1:$BENCH_REGISTRY_PORT/v2/"; then
  registry_was_running=1
else
  "$repo/scripts/images/registry.sh" start "$BENCH_REGISTRY_DIR" "$BENCH_REGISTRY_PORT"
fi
"$repo/scripts/images/push.sh" "$BENCH_IMAGES_DIR/busybox" "127.0.0.1:$BENCH_REGISTRY_PORT" library/busybox:latest
"$repo/scripts/images/push.sh" "$pause_layout" "127.0.0.1:$BENCH_REGISTRY_PORT" peapod/pause:latest
[ "$registry_was_running" = 1 ] || "$repo/scripts/images/registry.sh" stop "$BENCH_REGISTRY_DIR"
echo "setup-peers: ready (bench/compare.sh runs both runtimes)"
