# shellcheck shell=bash
# Sourced by build.sh: deterministic layer tars and OCI image layouts written with tar, gzip,
# sha256sum and jq. Every byte depends only on the input files, so a rebuild gives the same digests.
# Callers set WORK (a scratch dir) and run as root (layer entries keep the tree's numeric owners).

readonly MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
readonly MT_INDEX=application/vnd.oci.image.index.v1+json
readonly MT_CONFIG=application/vnd.oci.image.config.v1+json
readonly MT_LAYER_GZIP=application/vnd.oci.image.layer.v1.tar+gzip
readonly EPOCH=1970-01-01T00:00:00Z

# Deterministic tar of DIR's contents (entries relative to DIR, no "./" prefix): sorted names,
# mtime 0, numeric owners, PAX without atime/ctime or pid-dependent header names.
deterministic_tar() {  # DIR OUT_TAR
  local dir=$1 out=$2
  (cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort) >"$out.list"
  LC_ALL=C tar -C "$dir" --create --file "$out" --files-from "$out.list" \
    --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --sort=name --mtime=@0 --numeric-owner --hard-dereference --no-acls --no-xattrs
  rm -f "$out.list"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# Makes WORK/layers/NAME.tar (kept for docker archives), NAME.tar.gz and NAME.diffid.
make_layer() {  # NAME ROOTFS_DIR
  local name=$1 dir=$2 base="$WORK/layers/$1"
  mkdir -p "$WORK/layers"
  deterministic_tar "$dir" "$base.tar"
  echo "sha256:$(sha256_of "$base.tar")" >"$base.diffid"
  gzip -n -6 -c "$base.tar" >"$base.tar.gz"
}

# Copies FILE into LAYOUT/blobs/sha256/ and prints its descriptor as compact JSON.
put_blob() {  # LAYOUT MEDIA_TYPE FILE
  local layout=$1 media_type=$2 file=$3 hex
  hex=$(sha256_of "$file")
  mkdir -p "$layout/blobs/sha256"
  cp "$file" "$layout/blobs/sha256/$hex"
  jq -cn --arg mt "$media_type" --arg d "sha256:$hex" --argjson s "$(size_of "$file")" \
    '{mediaType: $mt, digest: $d, size: $s}'
}

# Writes STRING (no trailing newline) to a scratch file and prints that file's path.
scratch_file() {  # STRING
  local f
  f=$(mktemp "$WORK/blob.XXXXXX")
  chmod 0644 "$f"
  printf '%s' "$1" >"$f"
  echo "$f"
}

# Image config JSON. PLATFORM is {"architecture","os"[,"variant"]}; CONFIG is the "config" object;
# the rest are layer names already made by make_layer.
image_config_json() {  # PLATFORM_JSON CONFIG_JSON LAYER...
  local platform=$1 config=$2 diff_ids="[]" history="[]" layer
  shift 2
  for layer in "$@"; do
    diff_ids=$(jq -c --arg d "$(cat "$WORK/layers/$layer.diffid")" '. + [$d]' <<<"$diff_ids")
    history=$(jq -c --arg e "$EPOCH" --arg l "$layer" \
      '. + [{created: $e, created_by: ("peapod scripts/images/build.sh: layer " + $l)}]' <<<"$history")
  done
  jq -cjn --argjson p "$platform" --argjson c "$config" --argjson ids "$diff_ids" \
    --argjson h "$history" --arg e "$EPOCH" \
    '{created: $e} + $p + {config: $c, rootfs: {type: "layers", diff_ids: $ids}, history: $h}'
}

# Puts config, layers and manifest blobs into LAYOUT; prints the manifest descriptor with platform.
put_image() {  # LAYOUT PLATFORM_JSON CONFIG_JSON LAYER...
  local layout=$1 platform=$2 config=$3 layers="[]" layer desc config_desc config_file manifest_file
  shift 3
  config_file=$(scratch_file "$(image_config_json "$platform" "$config" "$@")")
  config_desc=$(put_blob "$layout" "$MT_CONFIG" "$config_file")
  for layer in "$@"; do
    desc=$(put_blob "$layout" "$MT_LAYER_GZIP" "$WORK/layers/$layer.tar.gz")
    layers=$(jq -c --argjson d "$desc" '. + [$d]' <<<"$layers")
  done
  desc=$(jq -cjn --arg mt "$MT_MANIFEST" --argjson c "$config_desc" --argjson l "$layers" \
    '{schemaVersion: 2, mediaType: $mt, config: $c, layers: $l}')
  manifest_file=$(scratch_file "$desc")
  desc=$(put_blob "$layout" "$MT_MANIFEST" "$manifest_file")
  jq -c --argjson p "$platform" '. + {platform: $p}' <<<"$desc"
}

# Puts an image index listing the given manifest descriptors into LAYOUT; prints its descriptor.
put_index() {  # LAYOUT DESCRIPTOR_JSON...
  local layout=$1 manifests="[]" d
  shift
  for d in "$@"; do manifests=$(jq -c --argjson d "$d" '. + [$d]' <<<"$manifests"); done
  d=$(jq -cjn --arg mt "$MT_INDEX" --argjson m "$manifests" \
    '{schemaVersion: 2, mediaType: $mt, manifests: $m}')
  put_blob "$layout" "$MT_INDEX" "$(scratch_file "$d")"
}

# Writes LAYOUT/oci-layout and LAYOUT/index.json naming DESCRIPTOR as TAG of image NAME.
# org.opencontainers.image.ref.name holds the tag (as the spec's examples and skopeo do);
# io.containerd.image.name holds the full reference, as `ctr export` writes it.
finish_layout() {  # LAYOUT NAME TAG DESCRIPTOR_JSON
  local layout=$1 name=$2 tag=$3 desc=$4
  printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  jq -cjn --arg mt "$MT_INDEX" --argjson d "$desc" --arg tag "$tag" \
    --arg full "docker.io/library/$name:$tag" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [$d + {annotations: {
       "io.containerd.image.name": $full, "org.opencontainers.image.ref.name": $tag}}]}' \
    >"$layout/index.json"
}

# A `docker save` archive (the pre-OCI shape: manifest.json, <config-hex>.json, <id>/layer.tar)
# of the image in LAYOUT, whose layers are WORK/layers/LAYER.tar.
write_docker_archive() {  # LAYOUT REPO_TAG OUT_TAR LAYER...
  local layout=$1 repo_tag=$2 out=$3 dir="$WORK/docker-archive" manifest config_digest
  local config_hex layers="[]" layer id parent=""
  shift 3
  rm -rf "$dir" && mkdir -p "$dir"
  manifest=$(jq -r '.manifests[0].digest' "$layout/index.json")
  config_digest=$(jq -r '.config.digest' "$layout/blobs/sha256/${manifest#sha256:}")
  config_hex=${config_digest#sha256:}
  cp "$layout/blobs/sha256/$config_hex" "$dir/$config_hex.json"
  for layer in "$@"; do
    # Docker's legacy layer ids chain the parent in; any stable unique id will do for loaders.
    id=$(printf '%s %s' "$parent" "$(cat "$WORK/layers/$layer.diffid")" | sha256sum | cut -d' ' -f1)
    mkdir -p "$dir/$id"
    cp "$WORK/layers/$layer.tar" "$dir/$id/layer.tar"
    printf '1.0' >"$dir/$id/VERSION"
    jq -cjn --arg id "$id" --arg p "$parent" --arg e "$EPOCH" \
      '{id: $id, created: $e, os: "linux"} + (if $p == "" then {} else {parent: $p} end)' \
      >"$dir/$id/json"
    layers=$(jq -c --arg l "$id/layer.tar" '. + [$l]' <<<"$layers")
    parent=$id
  done
  jq -cjn --arg c "$config_hex.json" --arg t "$repo_tag" --argjson l "$layers" \
    '[{Config: $c, RepoTags: [$t], Layers: $l}]' >"$dir/manifest.json"
  jq -cjn --arg r "${repo_tag%:*}" --arg t "${repo_tag##*:}" --arg id "$parent" \
    '{($r): {($t): $id}}' >"$dir/repositories"
  deterministic_tar "$dir" "$out.tmp" && mv "$out.tmp" "$out"
  rm -rf "$dir"
}
