// SealedExecutable: a program the agent runs, or runs as, through a view of it that cannot be
// written through.
//
// Any process the agent forks into a container can be made to name its own executable: a script
// whose first line is "#!/proc/self/exe" makes the kernel resolve the interpreter in the process
// that executes the script, so the agent's own binary runs in the container, and /proc/<pid>/exe
// then hands every process there a handle on it (runc's CVE-2019-5736; kernels since 6.11 let a
// running executable be opened for writing). So peapodd re-executes itself, before anything else,
// from such a view, executes peapod-pause from one too, and the runtime refuses to start a
// process in a container unless the agent runs from one: a new path into a container cannot
// forget it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

class SealedExecutable {
 public:
  enum class Kind {
    kOverlay,  // a private read-only overlay of the file's directory, mounted nowhere: no copy
    kMemfd,    // a copy in a write-sealed memfd, where overlayfs refuses the directory
  };

  // A view of the executable at `path` (symlinks resolved) that cannot be written through.
  static Result<std::unique_ptr<SealedExecutable>> Open(const std::string& path);

  // execve()s the view with `argv` and `envp`. Async-signal-safe: one raw syscall on memory
  // prepared beforehand, so a child of the multi-threaded agent may call it. `fd`, when given, is
  // a duplicate of fd() to use instead (for a child that renumbers its fds). Returns the errno.
  int Exec(char* const* argv, char* const* envp, int fd = -1) const;

  int fd() const { return fd_.Get(); }
  Kind kind() const { return kind_; }
  const std::string& path() const { return path_; }

 private:
  SealedExecutable(UniqueFd fd, std::string name, Kind kind, std::string path)
      : fd_(std::move(fd)), name_(std::move(name)), kind_(kind), path_(std::move(path)) {}

  UniqueFd fd_;       // overlay: the view's root directory; memfd: the copy itself
  std::string name_;  // overlay: the file's name in that directory ("" for a memfd)
  Kind kind_;
  std::string path_;  // what it is a view of, for messages
};

// Call first thing in main(), before any thread starts: unless this process already runs from a
// view of its executable that cannot be written through, re-executes it from one, with the same
// argv and environment. Returns when it runs from one; an error when it cannot.
Status RunFromSealedSelf(char** argv);

// Whether /proc/self/exe cannot be written through: on a read-only mount, or a write-sealed memfd.
bool SelfIsSealed();

// The path this program was started from, before RunFromSealedSelf re-executed it.
std::string OriginalExecutablePath();

// Fails with kFailedPrecondition unless SelfIsSealed(): checked by every path that starts a
// process inside a container.
Status CheckSelfIsSealed(std::string_view what);

}  // namespace peapod::runtime
