// peapod-exe-watcher: the attacker of runc's CVE-2019-5736 and CVE-2024-21626, run inside a
// container of a pod whose containers share one PID namespace, with CAP_SYS_PTRACE so that it sees
// everything any process of a container could ever see.
//
// For every process it can see, it opens /proc/<pid>/exe and tries to open it for writing too
// (without writing a byte), and it looks at every fd, the cwd and the root of the process for a
// directory or regular file that the process's own root does not reach. A process whose command
// line carries MARK (a "#!/proc/self/exe" script the test planted, run as a container's command,
// by exec, by a probe or by a hook) is held by ld.so on a FIFO in TRAP (the container's
// LD_LIBRARY_PATH): the watcher looks at it, then opens and closes every FIFO there for writing so
// that ld.so reads EOF and gives up. It also checks, with CAP_SYS_PTRACE dropped, that pid 1 (the
// pod's pause) cannot be looked at. It writes one line per observation to OUT; the test on the
// host judges them. Static, so it runs in any image.
//
//   peapod-exe-watcher OUT TRAP MARK SECONDS      (stops early once OUT.stop exists)
//
// Lines:
//   pause-without-ptrace err=<errno of open /proc/1/exe, 0 if it opened>
//   exe pid=P tag=T dev=MAJ:MIN ino=I write=<0 if opened for writing, else errno> link=L
//   root pid=P tag=T dev=MAJ:MIN ino=I        (with every exe line)
//   leak pid=P tag=T what=<fd_N|cwd|root> type=<dir|reg> dev=MAJ:MIN ino=I exe=E link=L
//   released pid=P tag=T
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

FILE* out;

// What was reported already: a process is reported again when it executes something else, or
// when it turns out to be running the planted script.
struct Seen {
  int pid;
  dev_t dev;
  ino_t ino;
  bool marked;
};
Seen seen[8192];
int seen_count;
int leaks_reported;

bool AlreadySeen(int pid, const struct stat& st, bool marked) {
  for (int i = 0; i < seen_count; ++i) {
    if (seen[i].pid == pid && seen[i].dev == st.st_dev && seen[i].ino == st.st_ino &&
        seen[i].marked == marked) {
      return true;
    }
  }
  if (seen_count < 8192) seen[seen_count++] = {pid, st.st_dev, st.st_ino, marked};
  return false;
}

void ReadLink(const char* path, char* buf, size_t size) {
  ssize_t n = readlink(path, buf, size - 1);
  if (n < 0) n = 0;
  buf[n] = '\0';
  if (n == 0) strcpy(buf, "-");
}

// The argument after MARK in the command line ("start", "probe", ...); "" when MARK is absent.
bool Marked(int pid, const char* mark, char* tag, size_t size) {
  char path[64], cmdline[4096];
  snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);
  close(fd);
  if (n <= 0) return false;
  cmdline[n] = '\0';
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(cmdline + i)) + 1) {
    if (strcmp(cmdline + i, mark) != 0) continue;
    ssize_t next = i + static_cast<ssize_t>(strlen(cmdline + i)) + 1;
    snprintf(tag, size, "%s", next < n ? cmdline + next : "-");
    return true;
  }
  return false;
}

// Where a process's "/" is: the test compares it with the host's root.
void ReportRoot(int pid, const char* tag) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/root", pid);
  struct stat st {};
  if (stat(path, &st) != 0) return;
  fprintf(out, "root pid=%d tag=%s dev=%u:%u ino=%lu\n", pid, tag, major(st.st_dev),
          minor(st.st_dev), static_cast<unsigned long>(st.st_ino));
}

void CheckExe(int pid, const char* tag) {
  char path[64], link[4096];
  snprintf(path, sizeof(path), "/proc/%d/exe", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // gone, a kernel thread, or not ours to see
  struct stat st {};
  fstat(fd, &st);
  close(fd);
  if (AlreadySeen(pid, st, strcmp(tag, "-") != 0)) return;
  int wfd = open(path, O_WRONLY | O_CLOEXEC);
  int write_err = wfd >= 0 ? 0 : errno;
  if (wfd >= 0) close(wfd);
  ReportRoot(pid, tag);
  ReadLink(path, link, sizeof(link));
  fprintf(out, "exe pid=%d tag=%s dev=%u:%u ino=%lu write=%d link=%s\n", pid, tag, major(st.st_dev),
          minor(st.st_dev), static_cast<unsigned long>(st.st_ino), write_err, link);
}

// A directory or regular file the process holds that its own root does not reach is a leak.
void CheckHandle(int pid, const char* handle, const char* what, const char* tag) {
  char path[400], link[4096], inside[4200];
  snprintf(path, sizeof(path), "/proc/%d/%s", pid, handle);
  struct stat held {};
  if (stat(path, &held) != 0) return;
  if (!S_ISDIR(held.st_mode) && !S_ISREG(held.st_mode)) return;
  ReadLink(path, link, sizeof(link));
  struct stat there {};
  snprintf(inside, sizeof(inside), "/proc/%d/root%s", pid, link[0] == '/' ? link : "/-");
  if (stat(inside, &there) == 0 && there.st_dev == held.st_dev && there.st_ino == held.st_ino) {
    return;
  }
  if (++leaks_reported > 500) return;  // enough to judge; the file stays small
  char exe[4096];
  snprintf(path, sizeof(path), "/proc/%d/exe", pid);
  ReadLink(path, exe, sizeof(exe));
  fprintf(out, "leak pid=%d tag=%s what=%s type=%s dev=%u:%u ino=%lu exe=%s link=%s\n", pid, tag,
          what, S_ISDIR(held.st_mode) ? "dir" : "reg", major(held.st_dev), minor(held.st_dev),
          static_cast<unsigned long>(held.st_ino), exe, link);
}

void CheckHandles(int pid, const char* tag) {
  CheckHandle(pid, "cwd", "cwd", tag);
  CheckHandle(pid, "root", "root", tag);
  char dir_path[64];
  snprintf(dir_path, sizeof(dir_path), "/proc/%d/fd", pid);
  DIR* dir = opendir(dir_path);
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    char handle[300], what[300];  // d_name is at most 255 bytes
    snprintf(handle, sizeof(handle), "fd/%s", e->d_name);
    snprintf(what, sizeof(what), "fd_%s", e->d_name);
    CheckHandle(pid, handle, what, tag);
  }
  closedir(dir);
}

// Lets ld.so, blocked opening a FIFO of TRAP, read EOF.
void ReleaseTrap(const char* trap) {
  DIR* dir = opendir(trap);
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", trap, e->d_name);
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO: nobody reads it now
    if (fd >= 0) close(fd);
  }
  closedir(dir);
}

// With CAP_SYS_PTRACE dropped, as a container has it by default: pid 1 must stay closed.
void CheckPauseWithoutPtrace() {
  pid_t child = fork();
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    syscall(SYS_capget, &header, data);
    data[0].effective &= ~(1U << CAP_SYS_PTRACE);
    data[0].permitted &= ~(1U << CAP_SYS_PTRACE);
    if (syscall(SYS_capset, &header, data) != 0) _exit(100);
    int fd = open("/proc/1/exe", O_RDONLY | O_CLOEXEC);
    fprintf(out, "pause-without-ptrace err=%d\n", fd >= 0 ? 0 : errno);
    fflush(out);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
}

void Scan(const char* trap, const char* mark) {
  DIR* proc = opendir("/proc");
  if (!proc) return;
  int self = getpid();
  while (dirent* e = readdir(proc)) {
    int pid = atoi(e->d_name);
    if (pid <= 0 || pid == self) continue;
    char tag[256];
    bool marked = Marked(pid, mark, tag, sizeof(tag));
    CheckExe(pid, marked ? tag : "-");
    CheckHandles(pid, marked ? tag : "-");
    if (marked) {
      ReleaseTrap(trap);
      fprintf(out, "released pid=%d tag=%s\n", pid, tag);
    }
  }
  closedir(proc);
  fflush(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s OUT TRAP MARK SECONDS\n", argv[0]);
    return 2;
  }
  out = fopen(argv[1], "a");
  if (!out) {
    perror(argv[1]);
    return 1;
  }
  char stop[4200];
  snprintf(stop, sizeof(stop), "%s.stop", argv[1]);
  CheckPauseWithoutPtrace();
  time_t deadline = time(nullptr) + atoi(argv[4]);
  while (time(nullptr) < deadline && access(stop, F_OK) != 0) {
    Scan(argv[2], argv[3]);
    struct timespec pause_between {
      0, 5 * 1000 * 1000
    };
    nanosleep(&pause_between, nullptr);
  }
  fprintf(out, "done\n");
  fclose(out);
  return 0;
}
