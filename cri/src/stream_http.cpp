// HTTP/1.1 heads and URLs for the streaming protocols (see http.h).
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "peapod/cri/streaming/http.h"
#include "peapod/parse.h"

namespace peapod::cri::streaming {
namespace {

constexpr size_t kMaxHead = 16 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

}  // namespace

std::string HttpHead::Header(std::string_view name) const {
  std::string key = Lower(name);
  for (const auto& [n, v] : headers) {
    if (n == key) return v;
  }
  return "";
}

std::vector<std::string> HttpHead::HeaderList(std::string_view name) const {
  std::string key = Lower(name);
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (n != key) continue;
    std::string_view remaining = v;
    while (!remaining.empty()) {
      size_t comma = remaining.find(',');
      auto item = Trim(remaining.substr(0, comma));
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      remaining.remove_prefix(comma + 1);
    }
  }
  return out;
}

std::string HttpHead::Path() const { return target.substr(0, target.find('?')); }

std::map<std::string, std::string> HttpHead::Query() const {
  std::map<std::string, std::string> out;
  size_t q = target.find('?');
  if (q == std::string::npos) return out;
  std::string_view remaining = std::string_view(target).substr(q + 1);
  while (!remaining.empty()) {
    size_t amp = remaining.find('&');
    auto pair = remaining.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    // Repeated keys (command=a&command=b) keep every value, NUL-separated.
    auto [it, inserted] = out.emplace(key, value);
    if (!inserted) it->second += std::string(1, '\0') + value;
    if (amp == std::string_view::npos) break;
    remaining.remove_prefix(amp + 1);
  }
  return out;
}

Result<HttpHead> ParseHttpHead(std::string_view text, bool request) {
  HttpHead head;
  size_t eol = text.find("\r\n");
  if (eol == std::string_view::npos)
    return Fail(ErrorCode::kInvalidArgument, "HTTP: no request line");
  std::string_view line = text.substr(0, eol);
  text.remove_prefix(eol + 2);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos)
    return Fail(ErrorCode::kInvalidArgument, "HTTP: bad first line");
  if (request) {
    if (sp2 == std::string_view::npos)
      return Fail(ErrorCode::kInvalidArgument, "HTTP: bad request line");
    head.method = line.substr(0, sp1);
    head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    head.version = line.substr(sp2 + 1);
    if (!head.version.starts_with("HTTP/1.")) {
      return Fail(ErrorCode::kInvalidArgument, "HTTP: not HTTP/1.x");
    }
  } else {
    head.version = line.substr(0, sp1);
    auto code = ParseUnsigned(line.substr(sp1 + 1, 3), 999);
    head.status = code ? static_cast<int>(*code) : 0;
    if (sp2 != std::string_view::npos) head.reason = line.substr(sp2 + 1);
    if (head.status < 100) return Fail(ErrorCode::kInvalidArgument, "HTTP: bad status line");
  }
  while (!text.empty()) {
    eol = text.find("\r\n");
    if (eol == std::string_view::npos) eol = text.size();
    line = text.substr(0, eol);
    text.remove_prefix(std::min(text.size(), eol + 2));
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Fail(ErrorCode::kInvalidArgument, "HTTP: bad header line");
    }
    head.headers.emplace_back(Lower(line.substr(0, colon)),
                              std::string(Trim(line.substr(colon + 1))));
  }
  return head;
}

Result<HttpHead> ReadHttpHead(int fd, bool request) {
  std::string buf;
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto head = ParseHttpHead(std::string_view(buf).substr(0, end + 4), request);
      if (head) head->rest = buf.substr(end + 4);
      return head;
    }
    if (buf.size() > kMaxHead) return Fail(ErrorCode::kInvalidArgument, "HTTP: head over 16 KiB");
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read HTTP head");
    if (n == 0)
      return Fail(ErrorCode::kUnavailable, "HTTP: connection closed before the head ended");
    buf.append(chunk, static_cast<size_t>(n));
  }
}

Result<ParsedUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return Fail(ErrorCode::kInvalidArgument, "URL \"" + std::string(url) + "\" is not http://");
  }
  url.remove_prefix(kScheme.size());
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  ParsedUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Fail(ErrorCode::kInvalidArgument, "URL: bad IPv6 host");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (!port.empty()) {
    auto p = ParsePort(port);
    if (!p) return std::unexpected(std::move(p.error()).Context("URL"));
    out.port = *p;
  }
  if (out.host.empty()) return Fail(ErrorCode::kInvalidArgument, "URL: no host");
  return out;
}

Result<UniqueFd> ConnectTcp(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    return Fail(ErrorCode::kInvalidArgument, "resolve " + host + ": " + ::gai_strerror(rc));
  }
  int err = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      err = errno;
      continue;
    }
    if (::connect(fd.Get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      int one = 1;
      ::setsockopt(fd.Get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    err = errno;
  }
  ::freeaddrinfo(found);
  return FailErrno("connect to " + host + ":" + std::to_string(port), err);
}

}  // namespace peapod::cri::streaming
