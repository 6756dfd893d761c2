#!/bin/bash
# Builds peapod's test and demo images from Debian packages only, as OCI image layouts:
#   OUTDIR/<name>/          the layout (oci-layout, index.json, blobs/sha256/...)
#   OUTDIR/<name>.oci.tar   the same layout as one archive
#   OUTDIR/busybox.docker.tar  busybox as a `docker save` archive (manifest.json + <id>/layer.tar)
# Deterministic: a rebuild from the same packages gives the same digests. An image whose inputs
# (package versions, input files, these scripts) are unchanged is skipped.
# Usage: build.sh OUTDIR [NAME...]     NAME: busybox busybox-layers busybox-multi user-numeric
#                                            user-named nginx etcd (default: all)
set -euo pipefail
shopt -s inherit_errexit
umask 022
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=oci-layout.sh
source "$here/oci-layout.sh"

readonly ALL_IMAGES=(busybox busybox-layers busybox-multi user-numeric user-named nginx etcd)
readonly PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "build.sh: $*" >&2; exit 1; }

packages_for() {  # NAME
  case $1 in
    nginx) echo busybox-static nginx-light nginx-common ;;
    etcd) echo busybox-static etcd-server etcd-client ;;
    *) echo busybox-static ;;
  esac
}

ensure_packages() {  # PACKAGE...
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "missing Debian packages: ${missing[*]} (run: apt-get install ${missing[*]})"
  fi
  echo "build.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
    die "could not install ${missing[*]} with apt-get"
}

# Shared-library closure of the given binaries, dynamic loader included, as ldd resolves it.
libs_of() {  # BINARY...
  ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' |
    LC_ALL=C sort -u
}

input_files() {  # NAME
  case $1 in
    nginx) echo /bin/busybox /usr/sbin/nginx /etc/nginx/mime.types /usr/share/nginx/html/index.html
           libs_of /usr/sbin/nginx ;;
    etcd) echo /bin/busybox /usr/bin/etcd /usr/bin/etcdctl
          libs_of /usr/bin/etcd /usr/bin/etcdctl ;;
    *) echo /bin/busybox ;;
  esac
}

# What an image is made from; the stamp of a built image. Cheap: no file is read but the scripts.
inputs_for() {  # NAME
  echo "image=$1 arch=$(dpkg --print-architecture)"
  (cd "$here" && sha256sum build.sh oci-layout.sh busybox-rootfs.sh nginx/nginx.conf)
  # shellcheck disable=SC2046
  dpkg-query -W -f='${Package}=${Version}\n' $(packages_for "$1")
  # shellcheck disable=SC2046
  stat -L -c '%n %s %Y' $(input_files "$1")
}

up_to_date() {  # NAME STAMP_TEXT
  [ -f "$OUTDIR/$1/index.json" ] && [ -f "$OUTDIR/$1.oci.tar" ] || return 1
  [ "$1" != busybox ] || [ -f "$OUTDIR/busybox.docker.tar" ] || return 1
  [ -f "$OUTDIR/.stamps/$1" ] && [ "$(cat "$OUTDIR/.stamps/$1")" = "$2" ]
}

# OCI platform of this host, from dpkg's architecture name.
host_platform() {
  case $(dpkg --print-architecture) in
    amd64) echo '{"architecture":"amd64","os":"linux"}' ;;
    arm64) echo '{"architecture":"arm64","os":"linux","variant":"v8"}' ;;
    armhf) echo '{"architecture":"arm","os":"linux","variant":"v7"}' ;;
    armel) echo '{"architecture":"arm","os":"linux","variant":"v5"}' ;;
    i386) echo '{"architecture":"386","os":"linux"}' ;;
    ppc64el) echo '{"architecture":"ppc64le","os":"linux"}' ;;
    mips64el) echo '{"architecture":"mips64le","os":"linux"}' ;;
    *) jq -cn --arg a "$(dpkg --print-architecture)" '{architecture: $a, os: "linux"}' ;;
  esac
}

# A platform that is not this host's, for the multi-platform index.
fake_platform() {
  if [ "$(jq -r .architecture <<<"$(host_platform)")" = s390x ]; then
    echo '{"architecture":"amd64","os":"linux"}'
  else
    echo '{"architecture":"s390x","os":"linux"}'
  fi
}

# Image "config" object: PATH, WorkingDir and labels, overlaid with EXTRA; EXTRA's Env is appended.
image_config() {  # NAME EXTRA_JSON
  local packages versions
  read -ra packages <<<"$(packages_for "$1")"
  versions=$(dpkg-query -W -f='${Package}=${Version} ' "${packages[@]}")
  jq -cn --arg name "$1" --arg path "$PATH_ENV" --argjson extra "$2" --arg pkgs "${versions% }" \
    '{Env: ([$path] + ($extra.Env // [])), WorkingDir: "/",
      Labels: {"org.opencontainers.image.title": $name,
               "org.opencontainers.image.source": "peapod scripts/images/build.sh",
               "dev.peapod.debian-packages": $pkgs}}
     + ($extra | del(.Env))'
}

# Copies binaries and their library closure to the same paths under ROOT.
copy_with_libs() {  # ROOT BINARY...
  local root=$1 f
  shift
  for f in "$@" $(libs_of "$@"); do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
  done
}

# The busybox tree, made once per run (an applet symlink each: slow to make) and copied from.
busybox_tree() {  # ROOT
  [ -d "$WORK/rootfs/busybox" ] || "$here/busybox-rootfs.sh" "$WORK/rootfs/busybox" >/dev/null
  [ "$1" = "$WORK/rootfs/busybox" ] || cp -a "$WORK/rootfs/busybox" "$1"
}

# The busybox tree as one layer, shared by every busybox-based image.
busybox_layer() {
  [ -f "$WORK/layers/busybox.tar.gz" ] && return
  busybox_tree "$WORK/rootfs/busybox"
  make_layer busybox "$WORK/rootfs/busybox"
}

# /etc files a dynamically linked program needs to resolve users and localhost.
add_etc_basics() {  # ROOT
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$1/etc/nsswitch.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$1/etc/hosts"
}

nginx_layer() {
  local root="$WORK/rootfs/nginx"
  busybox_tree "$root"
  echo 'www-data:x:33:33:www-data:/var/www:/bin/false' >>"$root/etc/passwd"
  echo 'www-data:x:33:' >>"$root/etc/group"
  add_etc_basics "$root"
  copy_with_libs "$root" /usr/sbin/nginx
  mkdir -p "$root"/{etc/nginx,usr/share/nginx/html,var/lib/nginx,var/log/nginx,run}
  cp /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  cp "$here/nginx/nginx.conf" "$root/etc/nginx/nginx.conf"
  cp /usr/share/nginx/html/index.html "$root/usr/share/nginx/html/index.html"
  make_layer nginx "$root"
  # The layer is sealed; now prove the tree runs. nginx -t opens the log files, which a runtime
  # provides as /dev/std{out,err}; plain files stand in for them here.
  : >"$root/dev/stdout" && : >"$root/dev/stderr"
  chroot "$root" /usr/sbin/nginx -t -q || die "nginx -t fails in the nginx rootfs"
}

etcd_layer() {
  local root="$WORK/rootfs/etcd"
  busybox_tree "$root"
  add_etc_basics "$root"
  copy_with_libs "$root" /usr/bin/etcd /usr/bin/etcdctl
  mkdir -p "$root/var/lib/etcd" && chmod 0700 "$root/var/lib/etcd"
  make_layer etcd "$root"
  chroot "$root" /usr/bin/etcd --version >/dev/null || die "etcd does not run in the etcd rootfs"
  chroot "$root" /usr/bin/etcdctl version >/dev/null || die "etcdctl does not run in the etcd rootfs"
}

# Layer 2 adds /data/{a,b} and /data/sub/c; layer 3 whites out /data/a (.wh.a) and makes
# /data/sub opaque (.wh..wh..opq) while adding /data/sub/d. Result: /data/b, /data/sub/d.
whiteout_layers() {
  local add="$WORK/rootfs/layers-add" del="$WORK/rootfs/layers-delete"
  mkdir -p "$add/data/sub" "$del/data/sub"
  echo a >"$add/data/a" && echo b >"$add/data/b" && echo c >"$add/data/sub/c"
  : >"$del/data/.wh.a" && : >"$del/data/sub/.wh..wh..opq" && echo d >"$del/data/sub/d"
  make_layer layers-add "$add"
  make_layer layers-delete "$del"
}

# Builds image NAME into the layout dir LAYOUT (not yet published).
build_image() {  # NAME LAYOUT
  local name=$1 layout=$2 busybox_cmd='{"Cmd":["sh"]}' desc
  case $name in
    busybox) busybox_layer
      desc=$(put_image "$layout" "$(host_platform)" "$(image_config busybox "$busybox_cmd")" busybox) ;;
    user-numeric) busybox_layer
      desc=$(put_image "$layout" "$(host_platform)" \
        "$(image_config "$name" '{"Cmd":["sh"],"User":"1000:1000"}')" busybox) ;;
    user-named) busybox_layer
      desc=$(put_image "$layout" "$(host_platform)" \
        "$(image_config "$name" '{"Cmd":["sh"],"User":"app"}')" busybox) ;;
    busybox-layers) busybox_layer && whiteout_layers
      desc=$(put_image "$layout" "$(host_platform)" "$(image_config "$name" "$busybox_cmd")" \
        busybox layers-add layers-delete) ;;
    busybox-multi) busybox_layer
      mkdir -p "$WORK/rootfs/fake/etc"
      jq -r '"\(.os)/\(.architecture)"' <<<"$(fake_platform)" >"$WORK/rootfs/fake/etc/peapod-platform"
      make_layer fake "$WORK/rootfs/fake"
      local config other host
      config=$(image_config busybox "$busybox_cmd")
      other=$(put_image "$layout" "$(fake_platform)" "$config" fake)
      host=$(put_image "$layout" "$(host_platform)" "$config" busybox)
      # The other platform comes first, so a client that ignores platforms picks the wrong one.
      desc=$(put_index "$layout" "$other" "$host")
      finish_layout "$layout" busybox multi "$desc"
      return ;;
    nginx) nginx_layer
      desc=$(put_image "$layout" "$(host_platform)" "$(image_config nginx \
        '{"Entrypoint":["/usr/sbin/nginx","-g","daemon off;"],"ExposedPorts":{"80/tcp":{}},
          "StopSignal":"SIGQUIT"}')" nginx) ;;
    etcd) etcd_layer
      desc=$(put_image "$layout" "$(host_platform)" "$(image_config etcd \
        '{"Entrypoint":["/usr/bin/etcd"],"ExposedPorts":{"2379/tcp":{},"2380/tcp":{}},
          "Env":["ETCD_DATA_DIR=/var/lib/etcd","ETCD_LOGGER=zap",
                 "ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379",
                 "ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:2379"]}')" etcd) ;;
  esac
  finish_layout "$layout" "$name" latest "$desc"
}

publish() {  # NAME LAYOUT STAMP_TEXT
  local name=$1 layout=$2
  rm -rf "${OUTDIR:?}/$name"
  mv "$layout" "$OUTDIR/$name"
  deterministic_tar "$OUTDIR/$name" "$OUTDIR/.$name.oci.tar.tmp"
  mv "$OUTDIR/.$name.oci.tar.tmp" "$OUTDIR/$name.oci.tar"
  [ "$name" != busybox ] ||
    write_docker_archive "$OUTDIR/busybox" busybox:latest "$OUTDIR/busybox.docker.tar" busybox
  printf '%s\n' "$3" >"$OUTDIR/.stamps/$name"
}

main() {
  [ $# -ge 1 ] || die "usage: build.sh OUTDIR [NAME...]  (images: ${ALL_IMAGES[*]})"
  mkdir -p "$1"
  OUTDIR=$(cd "$1" && pwd)
  shift
  local names=("$@") name pkgs=() stamp
  [ ${#names[@]} -gt 0 ] || names=("${ALL_IMAGES[@]}")
  for name in "${names[@]}"; do
    [[ " ${ALL_IMAGES[*]} " == *" $name "* ]] || die "unknown image \"$name\" (images: ${ALL_IMAGES[*]})"
    # shellcheck disable=SC2207
    pkgs+=($(packages_for "$name"))
  done
  [ "$(id -u)" = 0 ] || die "must run as root: layers keep the tree's owners, nginx and etcd are checked under chroot"

  mkdir -p "$OUTDIR/.stamps"
  # Test binaries may build concurrently (ctest -j): one builder at a time per OUTDIR.
  exec 9>"$OUTDIR/.lock"
  flock 9
  WORK=$(mktemp -d "$OUTDIR/.work.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
  ensure_packages "${pkgs[@]}"

  for name in "${names[@]}"; do
    stamp=$(inputs_for "$name")
    if up_to_date "$name" "$stamp"; then
      echo "$name: up to date"
      continue
    fi
    rm -f "$OUTDIR/.stamps/$name"
    rm -rf "$WORK/layout" && mkdir -p "$WORK/layout"
    build_image "$name" "$WORK/layout"
    publish "$name" "$WORK/layout" "$stamp"
    echo "$name: built $(jq -r '.manifests[0].digest' "$OUTDIR/$name/index.json")"
  done
}

main "$@"
