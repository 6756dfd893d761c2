#!/bin/bash
# Builds a minimal root filesystem directory from Debian's busybox-static: the busybox binary,
# a symlink per applet, and /etc/passwd + /etc/group with root, nobody and an unprivileged user.
# Usage: busybox-rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: busybox-rootfs.sh DIR}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-rootfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }

mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/www,home/app}
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$dir/$(dirname "$applet")"
  ln -sf /bin/busybox "$dir/$applet"
done
cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$dir/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
app:x:1000:
users:x:100:app
nogroup:x:65534:
GROUP
chown 1000:1000 "$dir/home/app"
echo "busybox rootfs ready in $dir"
