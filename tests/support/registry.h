// Test fixtures for image tests: a throwaway distribution registry on loopback, and the test
// images that scripts/images/build.sh makes from Debian packages.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "peapod/error.h"

namespace peapod::testing {

struct LocalRegistryOptions {
  // YAML appended to config.yml at the top level, e.g. an `auth:` section.
  std::string extra_config;
};

// Debian's docker-registry serving plain HTTP on a free port of 127.0.0.1, storing into a
// temporary directory. It runs as a child of the test process in its own process group; the
// destructor kills it by pid and removes the directory, and PR_SET_PDEATHSIG kills it should the
// test process die first. Start it from the thread that will outlive it (the main test thread):
// the death signal follows the thread that forked.
class LocalRegistry {
 public:
  static Result<std::unique_ptr<LocalRegistry>> Start(const LocalRegistryOptions& options = {});
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;
  ~LocalRegistry();

  // "127.0.0.1:PORT", as a registry host in image references.
  std::string HostPort() const;
  // Holds config.yml, data/ (the storage root) and registry.log.
  const std::string& Dir() const { return dir_; }
  pid_t Pid() const { return pid_; }

  // Pushes the OCI image layout at `layout_dir` (e.g. TestImagesDir() + "/busybox") as
  // `repo_tag` ("busybox:latest", "library/nginx:1.22") with scripts/images/push.sh. A layout
  // whose entry is an image index (busybox-multi) is pushed with its child manifests.
  Status Push(const std::string& layout_dir, const std::string& repo_tag);

  // Stops the registry and serves the same storage on the same port with `options`. Tests of
  // auth push first and then turn auth on, since push.sh speaks no auth.
  Status Restart(const LocalRegistryOptions& options);

 private:
  LocalRegistry(std::string dir, int port, pid_t pid)
      : dir_(std::move(dir)), port_(port), pid_(pid) {}

  std::string dir_;
  int port_;
  pid_t pid_;
};

// One line of an htpasswd file ("user:$2b$..."): docker-registry's htpasswd auth reads only
// bcrypt, which libcrypt (libxcrypt) makes without apache2-utils.
Result<std::string> HtpasswdLine(const std::string& user, const std::string& password);

// Builds the test images once per process (scripts/images/build.sh, skipped when up to date) into
// PEAPOD_BINARY_DIR/test-images and returns that directory. It holds one OCI layout per image
// (busybox, busybox-layers, busybox-multi, user-numeric, user-named, nginx, etcd), each also as
// <name>.oci.tar, and busybox.docker.tar in the `docker save` format. Throws if the build fails.
const std::string& TestImagesDir();

}  // namespace peapod::testing
