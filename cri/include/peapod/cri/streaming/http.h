// The HTTP/1.1 that the streaming protocols need: one request or response head read from a
// socket (the bytes after it are kept for the protocol that follows the upgrade), and the URL
// pieces of "http://host:port/path?query".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::cri::streaming {

struct HttpHead {
  std::string method, target, version;  // requests: "POST", "/exec/x?y", "HTTP/1.1"
  int status = 0;                       // responses
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string rest;                                          // bytes read past the head

  std::string Header(std::string_view name) const;  // first value, "" when absent
  // Every value of `name`, comma-separated lists split and trimmed.
  std::vector<std::string> HeaderList(std::string_view name) const;
  std::string Path() const;  // target without the query
  std::map<std::string, std::string> Query() const;
};

// Reads a head (request when `request`, else response) from `fd`, at most 16 KiB.
Result<HttpHead> ReadHttpHead(int fd, bool request);
Result<HttpHead> ParseHttpHead(std::string_view text, bool request);

struct ParsedUrl {
  std::string host;  // "127.0.0.1" (brackets removed for IPv6)
  uint16_t port = 80;
  std::string target;  // "/exec/token?x=y"
};
Result<ParsedUrl> ParseHttpUrl(std::string_view url);

// Connects a TCP socket to host:port.
Result<UniqueFd> ConnectTcp(const std::string& host, uint16_t port);

}  // namespace peapod::cri::streaming
