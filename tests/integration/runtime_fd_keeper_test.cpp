// FdKeeper against the real kernel: descriptors parked in a socket pair stay open while only the
// holder of the pair has them, are found and dropped by name, and are taken back from another
// process (as a restarted agent takes them from pause) with pidfd_getfd.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peapod/runtime/fd_keeper.h"

extern char** environ;

namespace peapod::runtime {
namespace {

struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read.Reset(fds[0]);
    write.Reset(fds[1]);
  }
};

// True when reading `fd` gives end of file now (every write end is closed), false when it
// would block (a write end is still open somewhere).
bool AtEof(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) == 0;
}

TEST(FdKeeper, AParkedDescriptorStaysOpenUntilDropped) {
  auto keeper = FdKeeper::Create();
  ASSERT_TRUE(keeper) << keeper.error().ToString();
  Pipe a, b;
  ASSERT_TRUE((*keeper)->Park("a/stdin", a.write.Get()));
  ASSERT_TRUE((*keeper)->Park("b/stdin", b.write.Get()));
  a.write.Reset();
  b.write.Reset();
  EXPECT_FALSE(AtEof(a.read.Get()));  // the parked copy keeps the pipe open
  EXPECT_FALSE(AtEof(b.read.Get()));

  auto found = (*keeper)->Find("a/");
  ASSERT_TRUE(found) << found.error().ToString();
  ASSERT_EQ(found->size(), 1u);
  ASSERT_TRUE(found->count("a/stdin"));
  ASSERT_EQ(::write(found->at("a/stdin").Get(), "x", 1), 1);  // the same pipe
  char c = 0;
  ASSERT_EQ(::read(a.read.Get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  found->clear();

  ASSERT_TRUE((*keeper)->Drop("a/"));
  EXPECT_TRUE(AtEof(a.read.Get()));
  EXPECT_FALSE(AtEof(b.read.Get()));  // the other one is still parked
  auto rest = (*keeper)->Find("");
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->size(), 1u);
  EXPECT_TRUE(rest->count("b/stdin"));
}

TEST(FdKeeper, ParkingUnderTheSameNameReplaces) {
  auto keeper = FdKeeper::Create();
  ASSERT_TRUE(keeper);
  Pipe first, second;
  ASSERT_TRUE((*keeper)->Park("c/console", first.write.Get()));
  ASSERT_TRUE((*keeper)->Park("c/console", second.write.Get()));
  first.write.Reset();
  second.write.Reset();
  EXPECT_TRUE(AtEof(first.read.Get()));
  EXPECT_FALSE(AtEof(second.read.Get()));
}

TEST(FdKeeper, AnotherProcessHoldingTheEndsKeepsThemAndHandsThemBack) {
  Pipe pipe;
  pid_t holder = -1;
  {
    auto keeper = FdKeeper::Create();
    ASSERT_TRUE(keeper);
    ASSERT_TRUE((*keeper)->Park("d/stdin", pipe.write.Get()));
    // A stand-in for pause: a process with the ends at the numbers pause has them.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, (*keeper)->send_fd(), FdKeeper::kPauseSendFd);
    posix_spawn_file_actions_adddup2(&actions, (*keeper)->receive_fd(), FdKeeper::kPauseReceiveFd);
    char arg0[] = "sleep", arg1[] = "3600";
    char* argv[] = {arg0, arg1, nullptr};
    ASSERT_EQ(::posix_spawnp(&holder, "sleep", &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }  // our keeper is gone, as with an agent that died
  pipe.write.Reset();
  EXPECT_FALSE(AtEof(pipe.read.Get()));

  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, holder, 0)));
  ASSERT_TRUE(pidfd);
  auto retaken = FdKeeper::Retake(pidfd.Get());
  ASSERT_TRUE(retaken) << retaken.error().ToString();
  auto found = (*retaken)->Find("d/");
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->count("d/stdin"));
  ASSERT_EQ(::write(found->at("d/stdin").Get(), "y", 1), 1);
  found->clear();
  char c = 0;
  ASSERT_EQ(::read(pipe.read.Get(), &c, 1), 1);
  EXPECT_EQ(c, 'y');

  // A process that holds no keeper (a pause of an older agent) is told so.
  pid_t plain = -1;
  char arg0[] = "sleep", arg1[] = "3600";
  char* argv[] = {arg0, arg1, nullptr};
  ASSERT_EQ(::posix_spawnp(&plain, "sleep", nullptr, nullptr, argv, environ), 0);
  UniqueFd plain_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, plain, 0)));
  auto none = FdKeeper::Retake(plain_pidfd.Get());
  EXPECT_FALSE(none);
  if (!none) {
    EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  }
  ::kill(plain, SIGKILL);
  ::waitpid(plain, nullptr, 0);

  ASSERT_TRUE((*retaken)->Drop(""));
  retaken->reset();
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_TRUE(AtEof(pipe.read.Get()));
}

}  // namespace
}  // namespace peapod::runtime
