#!/bin/bash
# Runs Debian's distribution registry (docker-registry) on 127.0.0.1:PORT for tests and demos.
#   registry.sh start DIR PORT   config DIR/config.yml, storage DIR/data, log DIR/registry.log,
#                                pid DIR/registry.pid; returns once GET /v2/ answers 200
#   registry.sh stop DIR         stops the registry whose pid is in DIR/registry.pid
set -euo pipefail

readonly registry_bin=/usr/bin/docker-registry
die() { echo "registry.sh: $*" >&2; exit 1; }

# True when PID is alive and is a registry (so a recycled pid is never signalled).
is_registry() {  # PID
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "$registry_bin serve"
}

start() {  # DIR PORT
  local dir port pid _
  [ -x "$registry_bin" ] || die "$registry_bin missing (apt-get install docker-registry)"
  mkdir -p "$1/data"
  dir=$(cd "$1" && pwd) port=$2
  if [ -f "$dir/registry.pid" ] && is_registry "$(cat "$dir/registry.pid")"; then
    die "a registry already runs from $dir (pid $(cat "$dir/registry.pid"))"
  fi
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  # Fixed: only this one instance ever resumes its own uploads.
  secret: peapod-test-registry
EOF
  rm -f "$dir/registry.pid"
  # Its own session and process group; sh writes its own pid then becomes the registry.
  # shellcheck disable=SC2016
  setsid sh -c 'echo $$ >"$1" && exec "$2" serve "$3"' sh \
    "$dir/registry.pid" "$registry_bin" "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  for _ in $(seq 100); do
    if [ -s "$dir/registry.pid" ]; then
      pid=$(cat "$dir/registry.pid")
      [ -d "/proc/$pid" ] || die "registry exited: $(tail -n5 "$dir/registry.log")"
      if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/")" = 200 ]; then
        echo "registry on 127.0.0.1:$port (pid $pid)"
        return
      fi
    fi
    sleep 0.1
  done
  [ -s "$dir/registry.pid" ] && stop "$dir"
  die "registry did not answer on 127.0.0.1:$port within 10s: $(tail -n5 "$dir/registry.log")"
}

stop() {  # DIR
  local pidfile="$1/registry.pid" pid _
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if is_registry "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 50); do is_registry "$pid" || break; sleep 0.1; done
    ! is_registry "$pid" || kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

case ${1:-} in
  start) [ $# -eq 3 ] || die "usage: registry.sh start DIR PORT"; start "$2" "$3" ;;
  stop) [ $# -ge 2 ] || die "usage: registry.sh stop DIR"; stop "$2" ;;
  *) die "usage: registry.sh start DIR PORT | registry.sh stop DIR" ;;
esac
