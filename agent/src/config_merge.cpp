#include "peapod/agent/config_merge.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace peapod::agent {
namespace {

std::string_view EnvKey(std::string_view kv) { return kv.substr(0, kv.find('=')); }

// Sets KEY=VALUE, replacing an existing entry with the same key in place (as containerd's
// oci.WithEnv does), so the image's order is kept.
void SetEnv(std::vector<std::string>& env, std::string kv) {
  auto key = EnvKey(kv);
  for (auto& existing : env) {
    if (EnvKey(existing) == key) {
      existing = std::move(kv);
      return;
    }
  }
  env.push_back(std::move(kv));
}

struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
    {"FPE", SIGFPE},   {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU}, {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

}  // namespace

Result<MergedProcess> MergeProcess(const ContainerConfig& config,
                                   const image::ContainerDefaults& image) {
  // containerd's setOCIProcessArgs (from moby's daemon/commit.go): a command replaces the
  // Entrypoint and the image's Cmd is then ignored; args alone replace only the Cmd.
  std::vector<std::string> command = config.command;
  std::vector<std::string> args = config.args;
  if (command.empty()) {
    if (args.empty()) args = image.cmd;
    bool empty_entrypoint = image.entrypoint.size() == 1 && image.entrypoint[0].empty();
    if (!empty_entrypoint) command = image.entrypoint;
  }
  if (command.empty() && args.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "no command specified: neither the container config nor the image has one");
  }
  MergedProcess merged;
  merged.args = std::move(command);
  merged.args.insert(merged.args.end(), args.begin(), args.end());

  merged.env = image.env;
  for (const auto& kv : config.envs) SetEnv(merged.env, kv.key + "=" + kv.value);

  merged.working_dir = !config.working_dir.empty() ? config.working_dir
                       : !image.working_dir.empty() ? image.working_dir
                                                     : "/";
  return merged;
}

Result<int> ParseStopSignal(const std::string& name) {
  if (name.empty()) return SIGTERM;
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec == std::errc() && end == name.data() + name.size()) {
    if (number > 0 && number < NSIG) return number;
    return Fail(ErrorCode::kInvalidArgument, "stop signal " + name + " is out of range");
  }
  std::string upper;
  for (char ch : name) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  std::string_view bare = upper;
  if (bare.starts_with("SIG")) bare.remove_prefix(3);
  for (const auto& s : kSignals) {
    if (bare == s.name) return s.number;
  }
  return Fail(ErrorCode::kInvalidArgument, "unknown stop signal \"" + name + "\"");
}

}  // namespace peapod::agent
