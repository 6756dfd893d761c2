#include "peapod/image/reference.h"

#include <cctype>
#include <vector>

namespace peapod::image {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDomain = "index.docker.io";
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::unexpected<Error> Invalid(std::string_view text, std::string_view why) {
  return Fail(ErrorCode::kInvalidArgument,
              "invalid image reference \"" + std::string(text) + "\": " + std::string(why));
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+
bool IsValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !IsLowerAlnum(c[i])) ++i;
    std::string_view sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

// domain := host (":" port)?, host := label ("." label)* | "[" ipv6 "]"
bool IsValidDomain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d;
  if (d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (char c : d.substr(1, close - 1)) {
      if (!IsHex(static_cast<char>(std::tolower(static_cast<unsigned char>(c)))) && c != ':' &&
          c != '.')
        return false;
    }
    host = {};
    d = d.substr(close + 1);
    if (d.empty()) return true;
    if (d.front() != ':') return false;
  } else {
    size_t colon = d.find(':');
    host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view() : d.substr(colon);
  }
  if (!d.empty()) {  // ":port"
    std::string_view port = d.substr(1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (host.empty()) return true;  // bracketed IPv6 checked above
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label)
      if (!IsAlnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool IsValidTag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength) return false;
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

Result<Reference> Parse(std::string_view text, bool default_tag) {
  if (text.empty()) return Invalid(text, "empty reference");
  std::string_view rest = text;
  Reference ref;

  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (!IsValidDigest(digest)) {
      if (digest.starts_with("sha256:"))
        return Invalid(text, "sha256 digest must be 64 lowercase hex characters");
      return Invalid(text, "unsupported or malformed digest \"" + std::string(digest) + "\"");
    }
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }

  // A tag is the part after the last ':' that follows the last '/' (a ':' before it is a port).
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!IsValidTag(tag)) return Invalid(text, "invalid tag \"" + std::string(tag) + "\"");
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Invalid(text, "missing repository name");

  // The first component is a domain when it looks like a host (has '.' or ':', is localhost, or
  // has upper case letters, which repository paths may not).
  std::string_view domain = kDefaultDomain;
  std::string_view path = rest;
  size_t first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, first_slash);
    bool has_upper = false;
    for (char c : first) has_upper |= std::isupper(static_cast<unsigned char>(c)) != 0;
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
        has_upper) {
      domain = first;
      path = rest.substr(first_slash + 1);
      if (!IsValidDomain(domain))
        return Invalid(text, "invalid registry host \"" + std::string(domain) + "\"");
    }
  }
  if (domain == kLegacyDomain) domain = kDefaultDomain;
  if (path.empty()) return Invalid(text, "missing repository name");

  for (char c : path) {
    if (std::isupper(static_cast<unsigned char>(c)))
      return Invalid(text, "repository name must be lowercase");
  }
  if (path.size() == 64 && path.find_first_not_of("0123456789abcdef") == std::string_view::npos &&
      domain == kDefaultDomain && first_slash == std::string_view::npos) {
    return Invalid(text, "cannot specify 64-byte hexadecimal strings as a repository name");
  }
  size_t start = 0;
  while (true) {
    size_t next = path.find('/', start);
    std::string_view component = path.substr(
        start, next == std::string_view::npos ? std::string_view::npos : next - start);
    if (!IsValidPathComponent(component)) {
      return Invalid(text, "invalid repository name component \"" + std::string(component) +
                               "\" (allowed: lowercase letters, digits and single separators . _ "
                               "__ -)");
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }

  ref.domain = std::string(domain);
  ref.path = std::string(path);
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos)
    ref.path = "library/" + ref.path;
  if (ref.Name().size() > kMaxNameLength)
    return Invalid(text, "repository name longer than 255 characters");
  if (default_tag && ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace

bool IsValidDigest(std::string_view digest) {
  if (!digest.starts_with("sha256:")) return false;
  std::string_view hex = digest.substr(7);
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!IsHex(c)) return false;
  return true;
}

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::RepoDigest(std::string_view digest_override) const {
  return Name() + "@" + std::string(digest_override.empty() ? digest : digest_override);
}

std::string Reference::Familiar() const {
  std::string name = Name();
  if (domain == kDefaultDomain) {
    name = path;
    if (name.starts_with("library/")) name = name.substr(8);
  }
  if (!tag.empty()) name += ":" + tag;
  if (!digest.empty()) name += "@" + digest;
  return name;
}

Result<Reference> ParseReference(std::string_view text) { return Parse(text, true); }
Result<Reference> ParseReferenceNoDefaultTag(std::string_view text) { return Parse(text, false); }

}  // namespace peapod::image
