#!/bin/bash
# The Debian package, so that it cannot rot: scripts/package.sh builds it from this build's
# binaries; the test checks its control fields, contents and modes, verifies the systemd unit,
# installs it with dpkg into a throwaway root (maintainer scripts run chrootless with
# $DPKG_ROOT, as `dpkg --root` does for a foreign root), runs what it installed (peapodd
# --print-config over the shipped config, bash completion), and purges it again.
#
#   tests/package/package_test.sh BUILD_DIR      (ctest: package.deb)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:?usage: package_test.sh BUILD_DIR}")
tmp=$(mktemp -d /tmp/peapod-package-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAIL: $what" >&2
    failures=$((failures + 1))
  fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
has_line() { grep -qxF -- "$2" <<<"$1"; }

# --- build -----------------------------------------------------------------------------------
deb=$("$src/scripts/package.sh" -b "$build" -o "$tmp" --no-build | tail -1)
version=$(sed -n 's/^project(peapod VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
check "package is named peapod_${version}_${arch}.deb" \
  test "$deb" = "$tmp/peapod_${version}_${arch}.deb" -a -f "$deb"

# --- control ---------------------------------------------------------------------------------
check "Package: peapod" test "$(dpkg-deb -f "$deb" Package)" = peapod
check "Version: $version" test "$(dpkg-deb -f "$deb" Version)" = "$version"
check "Architecture: $arch" test "$(dpkg-deb -f "$deb" Architecture)" = "$arch"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in libc6 libgrpc++ libcurl4 libseccomp2 containernetworking-plugins iptables; do
  check "Depends names $dep ($depends)" contains "$depends" "$dep"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
check "config.yaml is a conffile" has_line "$conffiles" /etc/peapod/config.yaml
check "the CNI conflist is a conffile" has_line "$conffiles" /etc/cni/net.d/99-peapod.conflist

# --- contents --------------------------------------------------------------------------------
listing=$(dpkg-deb -c "$deb" | awk '{print $1, $2, $6}')
for entry in \
  "-rwxr-xr-x root/root ./usr/bin/peapodd" \
  "-rwxr-xr-x root/root ./usr/bin/peapod" \
  "-rwxr-xr-x root/root ./usr/libexec/peapod/peapod-pause" \
  "-rw-r--r-- root/root ./lib/systemd/system/peapodd.service" \
  "-rw-r--r-- root/root ./etc/peapod/config.yaml" \
  "-rw-r--r-- root/root ./etc/cni/net.d/99-peapod.conflist" \
  "-rw-r--r-- root/root ./usr/share/bash-completion/completions/peapod" \
  "-rw-r--r-- root/root ./usr/share/doc/peapod/copyright" \
  "-rw-r--r-- root/root ./usr/share/doc/peapod/README.md"; do
  check "contains $entry" has_line "$listing" "$entry"
done
check "binaries are stripped" \
  bash -c "dpkg-deb -x '$deb' '$tmp/x' && ! readelf -S '$tmp/x/usr/bin/peapodd' | grep -q debug_info"
check "the conflist is JSON with a bridge" \
  bash -c "jq -e '.plugins[0].type == \"bridge\"' '$tmp/x/etc/cni/net.d/99-peapod.conflist' >/dev/null"
for script in postinst prerm postrm; do
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO "./$script" >"$tmp/$script"
  check "$script is valid sh" sh -n "$tmp/$script"
done

# --- the systemd unit --------------------------------------------------------------------------
unit=$tmp/x/lib/systemd/system/peapodd.service
for line in Type=notify Delegate=yes KillMode=process Restart=on-failure \
  "ExecStart=/usr/bin/peapodd --config /etc/peapod/config.yaml" WantedBy=multi-user.target; do
  check "the unit says $line" grep -qxF -- "$line" "$unit"
done
if command -v systemd-analyze >/dev/null; then
  # The unit as packaged but for ExecStart's path, which names the extracted peapodd (verify
  # checks that it is executable). Any complaint counts: verify exits 0 after some warnings.
  mkdir "$tmp/unit"
  sed "s#^ExecStart=/usr/bin/peapodd #ExecStart=$tmp/x/usr/bin/peapodd #" "$unit" \
    >"$tmp/unit/peapodd.service"
  verify_output=$(systemd-analyze verify "$tmp/unit/peapodd.service" 2>&1) && verify_rc=0 ||
    verify_rc=$?
  check "systemd-analyze verify accepts the unit silently (rc $verify_rc: $verify_output)" \
    test "$verify_rc" = 0 -a -z "$verify_output"
else
  echo "SKIPPED: systemd-analyze verify (systemd-analyze is not installed: apt-get install systemd)"
fi

# --- install into a throwaway root -----------------------------------------------------------
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
host_link=/etc/systemd/system/multi-user.target.wants/peapodd.service
host_link_before=$(readlink "$host_link" || true)
# Dependencies are not in the throwaway root's database: dpkg lists them, which is noise here
# unless it fails.
dpkg_root() {
  dpkg --root="$root" --force-script-chrootless --force-depends --force-not-root \
    --log="$tmp/dpkg.log" "$@" >"$tmp/dpkg.out" 2>&1 || { cat "$tmp/dpkg.out" >&2; return 1; }
}
check "dpkg installs it" dpkg_root -i "$deb"
check "dpkg calls it installed" \
  test "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' peapod)" = \
  "install ok installed"
check "postinst made /var/lib/peapod 0711" test "$(stat -c %a "$root/var/lib/peapod")" = 711
check "postinst made /var/log/pods" test -d "$root/var/log/pods"
check "postinst enabled peapodd.service" test "$(readlink \
  "$root/etc/systemd/system/multi-user.target.wants/peapodd.service")" = \
  /lib/systemd/system/peapodd.service
check "postinst left the host's systemd alone" test "$(readlink "$host_link" || true)" = \
  "$host_link_before"

# --- what it installed works ------------------------------------------------------------------
printed=$("$root/usr/bin/peapodd" --config "$root/etc/peapod/config.yaml" --print-config)
check "peapodd reads the shipped config" has_line "$printed" \
  "# config file: $root/etc/peapod/config.yaml"
check "peapodd finds the packaged pause in ../libexec/peapod" has_line "$printed" \
  "pause-binary: $root/usr/libexec/peapod/peapod-pause"
# The shipped config documents every key peapodd knows.
for key in $(sed -n 's/^\([a-z-]*\):.*/\1/p' <<<"$printed"); do
  check "the shipped config documents $key" grep -qE "^# ?$key:" "$root/etc/peapod/config.yaml"
done
check "peapod --help runs" bash -c "'$root/usr/bin/peapod' --help >/dev/null"

complete_words() {  # complete_words WORD... : the completions of the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _peapod_complete
           echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/peapod" "$@"
}
check "completion: peapod ap -> apply" test "$(complete_words peapod ap)" = apply
check "completion: peapod machine cr -> create" test "$(complete_words peapod machine cr)" = create
check "completion: peapod logs --fo -> --follow" test "$(complete_words peapod logs --fo)" = \
  --follow
check "completion: peapod --socket X ge -> get" test "$(complete_words peapod --socket /s ge)" = get
touch "$tmp/pod-manifest.yaml"
check "completion: apply -f completes files" test \
  "$(complete_words peapod apply -f "$tmp/pod-man")" = "$tmp/pod-manifest.yaml"

# --- purge --------------------------------------------------------------------------------------
check "dpkg purges it" dpkg_root --purge peapod
check "the binaries are gone" test ! -e "$root/usr/bin/peapodd"
check "the config is gone" test ! -e "$root/etc/peapod/config.yaml"
check "the unit is no longer enabled" \
  test ! -e "$root/etc/systemd/system/multi-user.target.wants/peapodd.service"

if [ "$failures" -ne 0 ]; then
  echo "package_test: $failures check(s) failed" >&2
  exit 1
fi
echo "package_test: all checks passed"
