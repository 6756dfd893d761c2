#!/bin/bash
# Installs every build and run dependency of peapod from Debian's archive. Idempotent: when
# everything is present it only checks, and it never starts the services that packages such as
# docker-registry or etcd-server would start on their own.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libspdlog-dev libgtest-dev libgmock-dev libyaml-dev libcli11-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev libseccomp-dev zlib1g-dev
  # run: networking, images, test and demo images, registry
  containernetworking-plugins iptables iproute2 busybox-static docker-registry
  curl jq zstd tar gzip util-linux nginx-light etcd-server etcd-client
  # scripts/package.sh and its test: dpkg-shlibdeps; systemd-analyze verifies the unit
  dpkg-dev systemd
  # `peapod machine`: its image (debootstrap), the cluster key and logins (ssh-keygen, ssh)
  debootstrap openssh-client
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
# Keep package scripts from starting daemons (a registry on :5000, etcd on :2379) on this host.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
