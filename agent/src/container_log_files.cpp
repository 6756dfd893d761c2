#include "peapod/agent/container_log_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include "peapod/unique_fd.h"

namespace peapod::agent {
namespace {

constexpr std::string_view kCompressedSuffix = ".gz";
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr size_t kStampLength = 22;  // YYYYMMDD-HHMMSS.ffffff

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsStamp(std::string_view s) {
  if (s.size() != kStampLength) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 ? c != '-' : i == 15 ? c != '.' : !std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// The names in `dir` that start with `prefix`.
std::vector<std::string> NamesWithPrefix(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.starts_with(prefix)) out.emplace_back(name);
  }
  ::closedir(d);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `path`.gz through a ".tmp" file and removes `path`, so an interrupted compression
// leaves either the plain file or the finished .gz (plus a .tmp the next pass removes).
Status Compress(const std::string& path) {
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return FailErrno("open rotated log " + path);
  std::string target = path + std::string(kCompressedSuffix);
  std::string tmp = target + std::string(kTmpSuffix);
  int out_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (out_fd < 0) return FailErrno("create " + tmp);
  gzFile gz = ::gzdopen(out_fd, "wb");
  if (gz == nullptr) {
    ::close(out_fd);
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kInternal, "gzip " + tmp + ": out of memory");
  }
  char buf[64 * 1024];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(in.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) break;
    if (::gzwrite(gz, buf, static_cast<unsigned>(n)) != static_cast<int>(n)) {
      ok = false;
      break;
    }
  }
  if (::gzclose(gz) != Z_OK) ok = false;
  if (!ok) {
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kInternal, "compress rotated log " + path);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FailErrno("rename " + tmp, err);
  }
  ::unlink(path.c_str());
  return Ok();
}

// Leftovers of an interrupted pass: .tmp files, and plain files whose .gz is complete.
void RemoveLeftovers(const std::string& log_path) {
  std::string dir = DirOf(log_path);
  for (const auto& name : NamesWithPrefix(dir, BaseOf(log_path) + ".")) {
    std::string path = dir + "/" + name;
    if (name.ends_with(kTmpSuffix)) {
      ::unlink(path.c_str());
    } else if (!name.ends_with(kCompressedSuffix) &&
               Exists(path + std::string(kCompressedSuffix))) {
      ::unlink(path.c_str());
    }
  }
}

}  // namespace

std::string RotatedLogName(const std::string& log_path, std::chrono::system_clock::time_point now) {
  auto since_epoch = now.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "%04d%02d%02d-%02d%02d%02d.%06lld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros.count()));
  return log_path + "." + stamp;
}

std::vector<std::string> RotatedLogFiles(const std::string& log_path) {
  std::string dir = DirOf(log_path);
  std::string prefix = BaseOf(log_path) + ".";
  std::vector<std::pair<std::string, std::string>> found;  // stamp, path
  for (const auto& name : NamesWithPrefix(dir, prefix)) {
    std::string_view rest = std::string_view(name).substr(prefix.size());
    if (rest.ends_with(kCompressedSuffix)) rest.remove_suffix(kCompressedSuffix.size());
    if (!IsStamp(rest)) continue;
    found.emplace_back(std::string(rest), dir + "/" + name);
  }
  // A plain file and its .gz both present (compression interrupted): the same stamp once.
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < found.size(); ++i) {
    if (i + 1 < found.size() && found[i].first == found[i + 1].first) continue;
    out.push_back(found[i].second);
  }
  return out;
}

Result<std::string> ReadLogFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Fail(ErrorCode::kNotFound, "log file " + path + " is gone");
    return FailErrno("open log " + path);
  }
  // gzread reads a file without the gzip magic as it is, so plain files go the same way.
  gzFile gz = ::gzdopen(fd, "rb");
  if (gz == nullptr) {
    ::close(fd);
    return Fail(ErrorCode::kInternal, "read log " + path + ": out of memory");
  }
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    int n = ::gzread(gz, buf, sizeof buf);
    if (n < 0) {
      ::gzclose(gz);
      return Fail(ErrorCode::kInternal, "read log " + path + ": corrupt compressed data");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::gzclose(gz);
  return out;
}

Result<bool> RotateContainerLog(const std::string& log_path, const LogRotationPolicy& policy,
                                const std::function<Status()>& reopen,
                                std::chrono::system_clock::time_point now) {
  struct stat st {};
  if (::stat(log_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return FailErrno("stat container log " + log_path);
  }
  if (static_cast<uint64_t>(st.st_size) <= policy.max_size) return false;

  RemoveLeftovers(log_path);
  // The live file and the one about to be rotated count against max_files.
  std::vector<std::string> rotated = RotatedLogFiles(log_path);
  size_t keep = static_cast<size_t>(std::max<int64_t>(policy.max_files - 2, 0));
  while (rotated.size() > keep) {
    if (::unlink(rotated.front().c_str()) != 0 && errno != ENOENT) {
      return FailErrno("remove rotated log " + rotated.front());
    }
    rotated.erase(rotated.begin());
  }
  // The writer moved off these at their rotation's reopen: compressing them is safe now. The
  // one this pass makes stays plain until the next one, as the writer may still be flushing.
  for (const auto& path : rotated) {
    if (path.ends_with(kCompressedSuffix)) continue;
    if (auto s = Compress(path); !s) return std::unexpected(std::move(s.error()));
  }

  std::string target = RotatedLogName(log_path, now);
  if (::rename(log_path.c_str(), target.c_str()) != 0) {
    return FailErrno("rename container log " + log_path + " to " + target);
  }
  if (auto s = reopen(); !s) {
    // The writer still has the renamed file: give it back its name, so nothing is stranded.
    ::rename(target.c_str(), log_path.c_str());
    return std::unexpected(std::move(s.error()));
  }
  return true;
}

void RemoveContainerLogFiles(const std::string& log_path) {
  ::unlink(log_path.c_str());
  std::string dir = DirOf(log_path);
  for (const auto& name : NamesWithPrefix(dir, BaseOf(log_path) + ".")) {
    ::unlink((dir + "/" + name).c_str());
  }
}

}  // namespace peapod::agent
