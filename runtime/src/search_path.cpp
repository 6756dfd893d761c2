#include "search_path.h"

namespace peapod::runtime::detail {

namespace {
// runc's default when the process has no PATH.
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}  // namespace

std::vector<std::string> SearchPathCandidates(const std::string& name,
                                              const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return {name};
  std::string path = kDefaultPath;
  for (const auto& kv : env) {
    if (kv.starts_with("PATH=")) path = kv.substr(5);
  }
  std::vector<std::string> candidates;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    // Built with appends: GCC 12 warns falsely (-Wrestrict) on dir + "/" + name here.
    std::string candidate = end > start ? path.substr(start, end - start) : std::string(".");
    candidate += '/';
    candidate += name;
    candidates.push_back(std::move(candidate));
    start = end + 1;
  }
  return candidates;
}

}  // namespace peapod::runtime::detail
