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

}  // namespace peapod::agent
