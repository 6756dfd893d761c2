// Signal names, as `kill -l` lists them (bash's names plus procps' aliases).
#include "peapod/runtime/signal_name.h"

#include <signal.h>

#include <cctype>
#include <charconv>

namespace peapod::runtime {
namespace {

struct NamedSignal {
  std::string_view name;
  int number;
};
// The first name of a number is the one SignalName prints.
constexpr NamedSignal kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

// A whole decimal number, nothing around it.
std::optional<int> Number(std::string_view text) {
  int value = 0;
  if (text.empty() || text.size() > 4) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// RTMIN, RTMIN+n, RTMAX, RTMAX-n (bare, upper case).
std::optional<int> RealTime(std::string_view bare) {
  int base = 0;
  int sign = 0;
  if (bare.starts_with("RTMIN")) {
    base = SIGRTMIN;
    sign = 1;
  } else if (bare.starts_with("RTMAX")) {
    base = SIGRTMAX;
    sign = -1;
  } else {
    return std::nullopt;
  }
  std::string_view rest = bare.substr(5);
  int number = base;
  if (!rest.empty()) {
    if (rest[0] != (sign > 0 ? '+' : '-')) return std::nullopt;
    auto offset = Number(rest.substr(1));
    if (!offset) return std::nullopt;
    number = base + sign * *offset;
  }
  if (number < SIGRTMIN || number > SIGRTMAX) return std::nullopt;
  return number;
}

}  // namespace

std::optional<int> ParseSignal(std::string_view name) {
  if (auto number = Number(name)) {
    if (*number >= 1 && *number <= SIGRTMAX) return number;
    return std::nullopt;
  }
  std::string upper;
  for (char ch : name)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  std::string_view bare = upper;
  if (bare.starts_with("SIG")) bare.remove_prefix(3);
  for (const NamedSignal& s : kSignals) {
    if (bare == s.name) return s.number;
  }
  return RealTime(bare);
}

std::string SignalName(int number) {
  for (const NamedSignal& s : kSignals) {
    if (s.number == number) return "SIG" + std::string(s.name);
  }
  if (number >= SIGRTMIN && number <= SIGRTMAX) {
    // As bash prints them: the lower half counts up from RTMIN, the upper down from RTMAX.
    int half = (SIGRTMAX - SIGRTMIN) / 2;
    if (number == SIGRTMIN) return "SIGRTMIN";
    if (number == SIGRTMAX) return "SIGRTMAX";
    if (number - SIGRTMIN <= half) return "SIGRTMIN+" + std::to_string(number - SIGRTMIN);
    return "SIGRTMAX-" + std::to_string(SIGRTMAX - number);
  }
  return std::to_string(number);
}

}  // namespace peapod::runtime
