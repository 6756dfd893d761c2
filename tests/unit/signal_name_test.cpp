#include "peapod/runtime/signal_name.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace peapod::runtime {
namespace {

TEST(ParseSignal, AcceptsNamesWithOrWithoutSigInAnyCase) {
  EXPECT_EQ(ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("sigquit"), SIGQUIT);
  EXPECT_EQ(ParseSignal("Hup"), SIGHUP);
  EXPECT_EQ(ParseSignal("SIGWINCH"), SIGWINCH);
  EXPECT_EQ(ParseSignal("SIGPWR"), SIGPWR);
  EXPECT_EQ(ParseSignal("SIGSTKFLT"), SIGSTKFLT);
  // Aliases kill knows beside the names bash prints.
  EXPECT_EQ(ParseSignal("IOT"), SIGABRT);
  EXPECT_EQ(ParseSignal("SIGCLD"), SIGCHLD);
  EXPECT_EQ(ParseSignal("POLL"), SIGIO);
}

TEST(ParseSignal, AcceptsEveryNameKillListsAndNothingElseForEachNumber) {
  // Every name SignalName prints parses back to its number: the real-time range included.
  for (int n = 1; n <= SIGRTMAX; ++n) {
    if (n > SIGSYS && n < SIGRTMIN) continue;  // 32, 33: glibc's own, no name
    std::string name = SignalName(n);
    EXPECT_EQ(ParseSignal(name), n) << name;
    EXPECT_EQ(ParseSignal(name.substr(3)), n) << name;
  }
}

TEST(ParseSignal, AcceptsRealTimeSignalsAsSystemdAndKillNameThem) {
  EXPECT_EQ(ParseSignal("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(ParseSignal("SIGRTMIN+3"), 37);  // what systemd halts on, as `kill -l` numbers it
  EXPECT_EQ(ParseSignal("RTMIN+3"), 37);
  EXPECT_EQ(ParseSignal("rtmin+3"), 37);
  EXPECT_EQ(ParseSignal("SIGRTMIN"), SIGRTMIN);
  EXPECT_EQ(ParseSignal("SIGRTMAX"), SIGRTMAX);
  EXPECT_EQ(ParseSignal("SIGRTMAX-2"), SIGRTMAX - 2);
  EXPECT_EQ(ParseSignal("RTMAX-14"), 50);
  EXPECT_EQ(ParseSignal("SIGRTMIN+30"), SIGRTMAX);
  EXPECT_EQ(SignalName(37), "SIGRTMIN+3");
  EXPECT_EQ(SignalName(50), "SIGRTMAX-14");
}

TEST(ParseSignal, AcceptsPlainNumbersInRange) {
  EXPECT_EQ(ParseSignal("9"), SIGKILL);
  EXPECT_EQ(ParseSignal("37"), 37);
  EXPECT_EQ(ParseSignal("64"), SIGRTMAX);
}

TEST(ParseSignal, RefusesWhatIsNoSignal) {
  for (const char* bad : {"",
                          "SIG",
                          "SIGWHAT",
                          "0",
                          "65",
                          "999",
                          "-1",
                          "+9",
                          " 9",
                          "9 ",
                          "SIGTERM ",
                          "RTMIN+",
                          "RTMIN-1",
                          "RTMAX+1",
                          "SIGRTMIN+31",
                          "SIGRTMAX-31",
                          "RTMIN+-3",
                          "RTMIN+ 3",
                          "RTMIN3",
                          "SIGSIGTERM",
                          "99999999999999999999"}) {
    EXPECT_EQ(ParseSignal(bad), std::nullopt) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace peapod::runtime
