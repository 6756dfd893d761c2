#!/bin/bash
# Pushes an OCI image layout to a registry over plain HTTP with the distribution-spec API:
# blobs first (HEAD to skip those present, POST an upload then PUT it with ?digest=), then each
# manifest. A layout whose entry is an image index gets its child manifests pushed by digest
# before the index is put under the tag (registries refuse an index naming unknown manifests).
# Usage: push.sh LAYOUT_DIR REGISTRY_HOSTPORT REPO[:TAG]
# The layout entry pushed is its only one, or the one whose org.opencontainers.image.ref.name is TAG.
set -euo pipefail
shopt -s inherit_errexit

die() { echo "push.sh: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: push.sh LAYOUT_DIR REGISTRY_HOSTPORT REPO[:TAG]"
layout=$1 registry=$2 ref=$3
if [[ ${ref##*/} == *:* ]]; then repo=${ref%:*} tag=${ref##*:}; else repo=$ref tag=latest; fi
[ -f "$layout/index.json" ] || die "$layout is not an OCI image layout (no index.json)"
readonly origin="http://$registry" api="http://$registry/v2/$repo"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

blob_file() { echo "$layout/blobs/${1%%:*}/${1#*:}"; }

# curl that prints the HTTP status; body to $scratch/body, headers to $scratch/headers.
http() {
  curl -sS -o "$scratch/body" -D "$scratch/headers" -w '%{http_code}' "$@" ||
    die "cannot reach $origin (curl $*)"
}
header() { grep -i "^$1:" "$scratch/headers" | tail -n1 | cut -d' ' -f2- | tr -d '\r'; }
expect() {  # WANTED_CODE GOT_CODE WHAT
  [ "$2" = "$1" ] || die "$3: HTTP $2 from $origin: $(head -c 500 "$scratch/body" 2>/dev/null)"
}

push_blob() {  # DIGEST
  local digest=$1 file code location
  file=$(blob_file "$digest")
  [ -f "$file" ] || die "blob $digest missing from $layout"
  code=$(http -I "$api/blobs/$digest")
  [ "$code" = 200 ] && return
  code=$(http -X POST "$api/blobs/uploads/")
  expect 202 "$code" "start upload of $digest to $repo"
  location=$(header location)
  [ -n "$location" ] || die "registry gave no Location for the upload of $digest"
  [[ $location == /* ]] && location=$origin$location
  [[ $location == *\?* ]] && location+="&digest=$digest" || location+="?digest=$digest"
  code=$(http -X PUT -H 'Content-Type: application/octet-stream' --upload-file "$file" "$location")
  expect 201 "$code" "upload $digest to $repo"
}

push_manifest() {  # DIGEST MEDIA_TYPE REFERENCE
  local digest=$1 media_type=$2 reference=$3 code
  code=$(http -X PUT -H "Content-Type: $media_type" --upload-file "$(blob_file "$digest")" \
    "$api/manifests/$reference")
  expect 201 "$code" "put manifest $digest as $repo:$reference"
  [ "$(header docker-content-digest)" = "$digest" ] ||
    die "registry stored manifest $digest as $(header docker-content-digest)"
}

push_image() {  # MANIFEST_DIGEST REFERENCE
  local manifest
  manifest=$(blob_file "$1")
  [ -f "$manifest" ] || die "manifest $1 missing from $layout"
  for d in $(jq -r '.config.digest, .layers[].digest' "$manifest"); do push_blob "$d"; done
  push_manifest "$1" application/vnd.oci.image.manifest.v1+json "$2"
}

push_index() {  # INDEX_DIGEST REFERENCE
  local index child
  index=$(blob_file "$1")
  [ -f "$index" ] || die "index $1 missing from $layout"
  for child in $(jq -r '.manifests[].digest' "$index"); do push_image "$child" "$child"; done
  push_manifest "$1" application/vnd.oci.image.index.v1+json "$2"
}

entry=$(jq -c --arg tag "$tag" '.manifests as $m
  | if ($m | length) == 1 then $m[0]
    else ([$m[] | select(.annotations["org.opencontainers.image.ref.name"] == $tag)] | first)
    end' "$layout/index.json")
[ "$entry" != null ] || die "$layout has several images and none tagged \"$tag\""
digest=$(jq -r .digest <<<"$entry")
case $(jq -r .mediaType <<<"$entry") in
  application/vnd.oci.image.index.v1+json) push_index "$digest" "$tag" ;;
  application/vnd.oci.image.manifest.v1+json) push_image "$digest" "$tag" ;;
  *) die "unsupported entry in $layout/index.json: $entry" ;;
esac
echo "pushed $registry/$repo:$tag $digest"
