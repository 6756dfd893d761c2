// PATH search done in the agent, before the fork: the child cannot allocate, so it gets the list
// of candidate paths and tries each with execve (execvpe's rules, minus the malloc).
#pragma once

#include <string>
#include <vector>

namespace peapod::runtime::detail {

// `name` itself when it contains '/'; else <dir>/<name> for each dir of the PATH in `env`
// (KEY=VALUE, the last PATH wins), or of the default PATH when `env` has none. Empty entries
// mean ".". Containers and exec sessions both use it.
std::vector<std::string> SearchPathCandidates(const std::string& name,
                                              const std::vector<std::string>& env);

}  // namespace peapod::runtime::detail
