// FdKeeper: descriptors parked in a pod's pause process, so that they outlive the agent. A
// tty container's console master and a stdin container's pipe writer must not close when the
// agent dies (the container would get SIGHUP or EOF), yet peapod runs no helper process per
// container. So pause is born holding both ends of a socket pair it never reads: a descriptor
// sent through it stays in flight, alive, as long as pause lives. A restarted agent takes both
// ends back with pidfd_getfd(2) and reads the parked descriptors out by name, putting them back.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

class FdKeeper {
 public:
  // Where pause holds the two ends.
  static constexpr int kPauseSendFd = 4;
  static constexpr int kPauseReceiveFd = 5;

  // A new socket pair; the caller hands both ends to pause.
  static Result<std::shared_ptr<FdKeeper>> Create();
  // The ends a running pause holds (`pause_pidfd`); kNotFound for a pause that holds none (a pod
  // started by an older agent).
  static Result<std::shared_ptr<FdKeeper>> Retake(int pause_pidfd);

  int send_fd() const { return send_.Get(); }
  int receive_fd() const { return receive_.Get(); }

  // Parks a copy of `fd` under `name` (at most 200 bytes), replacing one parked under it.
  Status Park(const std::string& name, int fd);
  // Copies of what is parked under names starting with `prefix`, by name; they stay parked.
  Result<std::map<std::string, UniqueFd>> Find(const std::string& prefix);
  // Closes what is parked under names starting with `prefix`.
  Status Drop(const std::string& prefix);

 private:
  FdKeeper(UniqueFd send, UniqueFd receive)
      : send_(std::move(send)), receive_(std::move(receive)) {}
  struct Parked {
    std::string name;
    UniqueFd fd;
  };
  // Takes everything out of the socket.
  Result<std::vector<Parked>> DrainLocked();
  Status SendLocked(const std::string& name, int fd);

  std::mutex mu_;
  UniqueFd send_, receive_;
};

}  // namespace peapod::runtime
