#!/bin/bash
# Builds peapod_<version>_<arch>.deb with dpkg-deb from a build tree: peapodd, peapod and
# peapod-pause, the systemd unit, a default config and CNI conflist, bash completion, the licence
# and the maintainer scripts in packaging/. Install it with `apt install ./peapod_*.deb`.
#
#   scripts/package.sh [-b BUILD_DIR] [-o OUT_DIR] [--no-build]
#
# BUILD_DIR (default build/) must be configured already (scripts/test.sh or the README's cmake
# line); without --no-build the three binaries are built there first. The package is written to
# OUT_DIR (default BUILD_DIR) and its path printed last. No root needed (dpkg-deb --root-owner-group).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build
out=
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    -b) build=$(realpath "$2"); shift 2 ;;
    -o) out=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
out=$(realpath "${out:-$build}")

version=$(sed -n 's/^project(peapod VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
[ -n "$version" ] || { echo "package.sh: no version in CMakeLists.txt's project()" >&2; exit 1; }

if [ "$do_build" = 1 ]; then
  cmake --build "$build" --target peapodd peapod peapod-pause
fi
for binary in cri/peapodd cli/peapod pause/peapod-pause; do
  [ -x "$build/$binary" ] || { echo "package.sh: $build/$binary is missing" >&2; exit 1; }
done

stage=$(mktemp -d /tmp/peapod-package.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
pkg=$src/packaging

# Binaries without their debug info (RelWithDebInfo keeps it for the build tree).
install -d "$root/usr/bin" "$root/usr/libexec/peapod"
strip --strip-unneeded -o "$root/usr/bin/peapodd" "$build/cri/peapodd"
strip --strip-unneeded -o "$root/usr/bin/peapod" "$build/cli/peapod"
strip --strip-unneeded -o "$root/usr/libexec/peapod/peapod-pause" "$build/pause/peapod-pause"
chmod 0755 "$root/usr/bin/peapodd" "$root/usr/bin/peapod" "$root/usr/libexec/peapod/peapod-pause"

install -D -m 0644 "$pkg/peapodd.service" "$root/lib/systemd/system/peapodd.service"
install -D -m 0644 "$pkg/config.yaml" "$root/etc/peapod/config.yaml"
install -D -m 0644 "$pkg/99-peapod.conflist" "$root/etc/cni/net.d/99-peapod.conflist"
# Generated from the CLI's own definition, so it lists exactly the verbs and flags it has.
install -d "$root/usr/share/bash-completion/completions"
"$build/cli/peapod" completion bash > "$root/usr/share/bash-completion/completions/peapod"

doc=$root/usr/share/doc/peapod
install -D -m 0644 "$src/README.md" "$doc/README.md"
if [ -f "$src/LICENSE" ]; then
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: peapod"
    echo
    echo "Files: *"
    echo "Copyright: the peapod authors"
    echo "License: see below"
    echo
    sed 's/^$/./; s/^/ /' "$src/LICENSE"
  } > "$doc/copyright"
else
  echo "package.sh: warning: no LICENSE file; the package says no licence has been chosen" >&2
  cat > "$doc/copyright" <<'NOTICE'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: peapod

Files: *
Copyright: the peapod authors
License: none-chosen
 The peapod project has not chosen a licence yet; until it does, no licence is granted
 beyond what applicable law allows.
NOTICE
fi
chmod 0644 "$doc/copyright"

# The control file: shared-library dependencies from dpkg-shlibdeps, the rest by hand.
mkdir -p "$stage/debian" "$root/DEBIAN"
printf 'Source: peapod\n\nPackage: peapod\nArchitecture: any\n' > "$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O -e"$root/usr/bin/peapodd" -e"$root/usr/bin/peapod" \
  2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
rm -rf "$stage/debian"
maintainer=${PEAPOD_MAINTAINER:-peapod maintainers <maintainers@users.noreply.h-seed-2cd6de83.example>}
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: peapod
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $shlibs, containernetworking-plugins, iptables, init-system-helpers (>= 1.58)
Recommends: kmod
Suggests: cri-tools
Section: admin
Priority: optional
Description: Kubernetes-style pod sandbox agent serving CRI v1
 peapodd runs pods on one Linux node as containerd and kubelet do: a tiny
 static pause process per pod owns its namespaces, containers join it on an
 overlay root filesystem, networking comes from CNI plugins and images from
 OCI registries. It serves Kubernetes' CRI v1 on /run/peapod/peapod.sock, so
 kubelet and crictl can drive it; the peapod CLI applies pod manifests.
CONTROL
printf '/etc/peapod/config.yaml\n/etc/cni/net.d/99-peapod.conflist\n' > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$pkg/debian/$script" "$root/DEBIAN/$script"
done

mkdir -p "$out"
deb=$out/peapod_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
