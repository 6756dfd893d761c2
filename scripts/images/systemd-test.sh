#!/bin/bash
# The smallest Debian that boots systemd as PID 1, for the tests of systemd containers: debootstrap
# --variant=minbase of the host's suite with systemd-sysv and dbus, as one layer of an OCI archive.
# Cmd /sbin/init, and deliberately no StopSignal and no container= variable: the runtime's
# systemd defaults (SIGRTMIN+3, container=peapod) are what the tests check.
# Built once per suite, mirror and script version and cached (several tests and build trees share
# it); prints the archive's path.
# Usage: systemd-test.sh [CACHE_DIR]     (default /var/cache/peapod/images)
set -euo pipefail
shopt -s inherit_errexit
umask 022
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=oci-layout.sh
source "$here/oci-layout.sh"

die() { echo "systemd-test.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
cache=${1:-/var/cache/peapod/images}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
# The Debian mirror apt already uses on this machine.
mirror=$(grep -rhoE '(URIs:|^deb) *https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list \
  /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^ ]*' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
readonly PACKAGES=systemd-sysv,dbus
key=$(printf '%s\n' "$suite" "$mirror" "$PACKAGES" "$(dpkg --print-architecture)" \
  "$(sha256sum "$here/systemd-test.sh" "$here/oci-layout.sh")" | sha256sum | cut -c1-16)
out="$cache/systemd-test-$key.oci.tar"

exec 9>"$cache/.systemd-test.lock"
flock 9
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi
command -v debootstrap >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2 ||
    die "debootstrap is missing and apt-get could not install it"
}

WORK=$(mktemp -d "$cache/.systemd-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
root="$WORK/rootfs"
echo "systemd-test.sh: debootstrap $suite from $mirror (once; a minute or two)" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$root" "$mirror" >&2 ||
  die "debootstrap failed (see above)"
# What a container image does not carry: apt's lists and caches, and a machine id (systemd makes
# a fresh one at each boot from an empty file).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
chroot "$root" /bin/systemctl --version >/dev/null || die "systemctl does not run in the rootfs"

make_layer systemd "$root"
platform=$(jq -cn --arg a "$(dpkg --print-architecture)" '{architecture: $a, os: "linux"}')
config=$(jq -cn --arg s "$suite" \
  '{Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    Cmd: ["/sbin/init"], WorkingDir: "/",
    Labels: {"org.opencontainers.image.title": "systemd-test",
             "org.opencontainers.image.source": "peapod scripts/images/systemd-test.sh",
             "dev.peapod.debian-suite": $s}}')
layout="$WORK/layout"
desc=$(put_image "$layout" "$platform" "$config" systemd)
finish_layout "$layout" systemd-test latest "$desc"
deterministic_tar "$layout" "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
