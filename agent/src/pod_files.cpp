#include "pod_files.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "peapod/unique_fd.h"

namespace peapod::agent {

std::string BuildHostsFile(const std::string& hostname, const std::vector<std::string>& ips) {
  std::string text =
      "# Kubernetes-managed hosts file.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  for (const auto& ip : ips) text += ip + "\t" + hostname + "\n";
  return text;
}

bool HasDnsConfig(const std::optional<DNSConfig>& dns) {
  return dns && (!dns->servers.empty() || !dns->searches.empty() || !dns->options.empty());
}

std::string BuildResolvConf(const DNSConfig& dns) {
  std::string text;
  if (!dns.searches.empty()) {
    text += "search";
    for (const auto& s : dns.searches) text += " " + s;
    text += "\n";
  }
  for (const auto& server : dns.servers) text += "nameserver " + server + "\n";
  if (!dns.options.empty()) {
    text += "options";
    for (const auto& o : dns.options) text += " " + o;
    text += "\n";
  }
  return text;
}

std::string NodeHostname() {
  utsname u{};
  if (::uname(&u) != 0) return "localhost";
  return u.nodename;
}

Status WriteSmallFile(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("create " + path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.Get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("write " + path);
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read " + path);
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  return content;
}

}  // namespace peapod::agent
