// Reference: an image name as Docker and containerd parse it ("busybox",
// "host:5000/ns/name:tag", "name@sha256:...", "name:tag@sha256:..."), normalized to its
// fully qualified form ("docker.io/library/busybox:latest").
#pragma once

#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod::image {

struct Reference {
  std::string domain;  // "docker.io", "127.0.0.1:5000"
  std::string path;    // "library/busybox", "ns/name"
  std::string tag;     // empty when absent
  std::string digest;  // "sha256:<hex>", empty when absent

  // "docker.io/library/busybox"
  std::string Name() const { return domain + "/" + path; }
  // "docker.io/library/busybox:latest" (or "...@sha256:..."; both when both are set)
  std::string String() const;
  // "name:tag"; empty when there is no tag.
  std::string RepoTag() const { return tag.empty() ? std::string() : Name() + ":" + tag; }
  // "name@digest" for the given digest (the reference's own when empty).
  std::string RepoDigest(std::string_view digest_override = {}) const;
  // "busybox:latest", "ns/name:tag" — the short form Docker prints.
  std::string Familiar() const;

  bool operator==(const Reference&) const = default;
};

// Parses a reference with the Docker/OCI grammar and normalizes it: the default domain is
// docker.io, single-component docker.io names get "library/", and a reference without tag or
// digest gets ":latest". Invalid references fail with kInvalidArgument saying why.
Result<Reference> ParseReference(std::string_view text);

// The same, without adding ":latest" (for lookups where "name" alone means any tag).
Result<Reference> ParseReferenceNoDefaultTag(std::string_view text);

// True for "sha256:<64 hex>".
bool IsValidDigest(std::string_view digest);

}  // namespace peapod::image
