#!/bin/bash
# Builds the Debian 12 "machine" image for `peapod machine` (footloose-style containers that look
# like virtual machines): debootstrap from the Debian archive this host's apt already uses, with
# systemd as PID 1 and sshd as a unit.
#   OUTDIR/debian-machine.oci.tar   an OCI layout archive of docker.io/library/debian-machine:12
# The image holds no ssh key at all: host keys are made by each machine at its first boot
# (ssh-keygen -A before sshd starts), the login key is mounted by `peapod machine create`.
#
# The build downloads ~60 MB and takes minutes, so its result is cached in CACHE_DIR
# (PEAPOD_IMAGE_CACHE, default /var/cache/peapod/images), keyed by the content of this script and
# of oci-layout.sh (plus the mirror and architecture): a new build directory or a fresh clone
# reuses it; editing this script makes a new image. Package versions are those of the mirror at
# the time of the first build.
# Usage: machine.sh OUTDIR        (MIRROR=http://... overrides the mirror read from apt's sources)
set -euo pipefail
shopt -s inherit_errexit
umask 022
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=oci-layout.sh
source "$here/oci-layout.sh"

readonly NAME=debian-machine TAG=12 SUITE=bookworm
# systemd-sysv provides /sbin/init; dbus lets logind (and so PAM sessions of ssh logins) work;
# iproute2 and procps so a machine can be inspected; python3 so Ansible can drive it.
readonly PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,procps,python3
# Units that need hardware, a kernel module or a writable /proc/sys, which a container has not:
# masked so that a booted machine is "running", not "degraded".
readonly MASKED_UNITS=(
  getty.target console-getty.service getty@.service serial-getty@.service
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
  systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service
  systemd-modules-load.service systemd-sysctl.service systemd-remount-fs.service
  systemd-firstboot.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount
  sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount
  systemd-journald-audit.socket systemd-pstore.service
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
)

die() { echo "machine.sh: $*" >&2; exit 1; }

# The Debian archive apt already uses for SUITE: MIRROR, else the first deb822 or one-line
# source naming SUITE whose URL ends in /debian (never a security or third-party repository).
debian_mirror() {
  if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; return; fi
  local f uris="" suites="" line
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
      case $line in
        URIs:*) uris=${line#URIs:} ;;
        Suites:*) suites=${line#Suites:} ;;
        "") uris="" suites="" ;;
      esac
      if [ -n "$uris" ] && [[ " $suites " == *" $SUITE "* ]]; then
        for u in $uris; do [[ ${u%/} == */debian ]] && { echo "${u%/}"; return; }; done
      fi
    done < <(cat "$f"; echo)
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" '$1 == "deb" { u = $2; if ($2 ~ /^\[/) { for (i = 2; $i !~ /\]$/; i++); u = $(i+1) }
      for (j = 1; j <= NF; j++) if ($j == s && u ~ /\/debian\/?$/) { sub(/\/$/, "", u); print u; exit } }' "$f"
  done | head -n1 | grep . || die "no Debian archive for $SUITE in /etc/apt/sources.list* (set MIRROR=)"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null && return
  echo "machine.sh: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2 ||
    die "could not install debootstrap (apt-get install debootstrap)"
}

# Unmounts whatever a failed debootstrap left mounted under ROOT (proc, sys, devpts), deepest first.
unmount_under() {  # ROOT
  local m
  for m in $(awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo |
             sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# Makes the debootstrapped tree ROOT a container image: no keys, no identity, no hardware units.
configure_rootfs() {  # ROOT
  local root=$1 unit
  # Host keys are per machine: made before sshd's first start, never shipped.
  rm -f "$root"/etc/ssh/ssh_host_*
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  # Debian's unit checks the config (sshd -t, which needs host keys) first: keys before that.
  printf '%s\n' '# peapod machine image: each machine makes its own host keys at its first boot.' \
    '[Service]' 'ExecStartPre=' 'ExecStartPre=/usr/bin/ssh-keygen -A' 'ExecStartPre=/usr/sbin/sshd -t' \
    >"$root/etc/systemd/system/ssh.service.d/host-keys.conf"
  # Root logs in with the cluster key only (Debian's default is prohibit-password; say it).
  printf '%s\n' 'PermitRootLogin prohibit-password' 'PasswordAuthentication no' \
    'KbdInteractiveAuthentication no' >"$root/etc/ssh/sshd_config.d/peapod-machine.conf"
  install -d -m 0700 "$root/root/.ssh"
  # An empty machine-id: systemd makes one per machine at boot. The hostname is the pod's.
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id" "$root/etc/hostname"
  for unit in "${MASKED_UNITS[@]}"; do ln -sfn /dev/null "$root/etc/systemd/system/$unit"; done
  # No /etc/fstab entries to remount; journald keeps its journal in memory (/run).
  : >"$root/etc/fstab"
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/peapod-machine.conf"
  # What no machine needs: package lists and caches, docs, the build's logs.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/debootstrap "$root"/var/cache/debconf/*-old
  find "$root/var/log" -type f -size +0 -delete
  [ -x "$root/sbin/init" ] || die "no /sbin/init in the tree (systemd-sysv missing)"
  [ -x "$root/usr/sbin/sshd" ] || die "no sshd in the tree"
}

image_config() {  # MIRROR
  jq -cn --arg mirror "$1" --arg pkgs "$PACKAGES" \
    '{Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=docker"],
      Cmd: ["/sbin/init"], WorkingDir: "/", StopSignal: "SIGRTMIN+3",
      ExposedPorts: {"22/tcp": {}},
      Labels: {"org.opencontainers.image.title": "debian-machine",
               "org.opencontainers.image.source": "peapod scripts/images/machine.sh",
               "dev.peapod.debian-mirror": $mirror, "dev.peapod.debian-packages": $pkgs}}'
}

build() {  # MIRROR OUT_TAR
  local mirror=$1 out=$2 root="$WORK/rootfs" layout="$WORK/layout" desc platform started
  started=$(date +%s)
  echo "machine.sh: debootstrap $SUITE from $mirror (+ $PACKAGES)" >&2
  if ! debootstrap --variant=minbase --include="$PACKAGES" --components=main \
         "$SUITE" "$root" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
    unmount_under "$root"
    tail -n 20 "$WORK/debootstrap.log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 20 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  unmount_under "$root"
  configure_rootfs "$root"
  make_layer "$NAME" "$root"
  platform=$(jq -cn --arg a "$(dpkg --print-architecture)" '{architecture: $a, os: "linux"}')
  mkdir -p "$layout"
  desc=$(put_image "$layout" "$platform" "$(image_config "$mirror")" "$NAME")
  finish_layout "$layout" "$NAME" "$TAG" "$desc"
  deterministic_tar "$layout" "$out"
  echo "machine.sh: built in $(($(date +%s) - started))s: rootfs $(du -sh "$root" | cut -f1)," \
    "layer $(du -h "$WORK/layers/$NAME.tar.gz" | cut -f1) compressed" >&2
}

main() {
  [ $# -eq 1 ] || die "usage: machine.sh OUTDIR"
  [ "$(id -u)" = 0 ] || die "must run as root: debootstrap, and layers keep the tree's owners"
  mkdir -p "$1"
  local outdir mirror key cache cached
  outdir=$(cd "$1" && pwd)
  mirror=$(debian_mirror)
  key=$( (cd "$here" && cat machine.sh oci-layout.sh; echo "$mirror $(dpkg --print-architecture)") |
        sha256sum | cut -c1-16)
  cache=${PEAPOD_IMAGE_CACHE:-/var/cache/peapod/images}
  cached="$cache/$NAME-$key.oci.tar"
  mkdir -p "$cache"
  # Concurrent test binaries and builders: one build at a time per cache.
  exec 9>"$cache/.$NAME.lock"
  flock 9
  if [ ! -f "$cached" ]; then
    ensure_debootstrap
    WORK=$(mktemp -d "$cache/.work.XXXXXX")
    trap 'unmount_under "$WORK/rootfs"; rm -rf "$WORK"' EXIT
    build "$mirror" "$WORK/out.tar"
    mv "$WORK/out.tar" "$cached"
    # Older keys are older versions of this script's image.
    find "$cache" -maxdepth 1 -name "$NAME-*.oci.tar" ! -path "$cached" -delete
  fi
  if ! [ "$cached" -ef "$outdir/$NAME.oci.tar" ]; then
    ln -f "$cached" "$outdir/.$NAME.oci.tar.tmp" 2>/dev/null || cp "$cached" "$outdir/.$NAME.oci.tar.tmp"
    mv -f "$outdir/.$NAME.oci.tar.tmp" "$outdir/$NAME.oci.tar"
  fi
  echo "$NAME:$TAG: $outdir/$NAME.oci.tar (cache key $key)"
}

main "$@"
