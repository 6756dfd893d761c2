// peapod: the command-line client of peapodd. kubectl-like verbs on pod manifests (apply, get,
// describe, logs, exec, delete) over peapod's pod API, image verbs (images, pull, load, rmi)
// over the CRI ImageService and the pod API, and footloose's verbs under `machine` (machine.cpp).
// Exit codes as kubectl: 0 on success, 1 on any error; `exec` exits with the command's code.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cri/proto/api.grpc.pb.h"
#include "cri/proto/pod_api.grpc.pb.h"
#include "image_commands.h"
#include "machine.h"
#include "peapod/cli/completion.h"
#include "peapod/cli/format.h"
#include "peapod/cli/format_workload.h"
#include "peapod/cri/streaming/client.h"
#include "peapod/json_field.h"
#include "workloads.h"
#include "peapod/parse.h"

#ifndef PEAPOD_VERSION
#define PEAPOD_VERSION "0.0.0"
#endif

namespace {

namespace pv1 = ::peapod::v1;
namespace cri = ::runtime::v1;
using nlohmann::json;
using peapod::cli::GetFormat;

constexpr char kDefaultSocket[] = "/run/peapod/peapod.sock";

// The server's JSON is read as untrusted as any other: a damaged pod document prints as empty
// fields (or an empty object), never an exception.
json ParseObject(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string Text(const json& object, const char* key) {
  return peapod::JsonField<std::string>(object, key, "").value_or("");
}

// object[outer][key], null when any part is missing or of another type.
json Nested(const json& object, const char* outer, const char* key) {
  auto inner = peapod::JsonField<json>(object, outer, json());
  if (!inner || !inner->is_object()) return json();
  return peapod::JsonField<json>(*inner, key, json()).value_or(json());
}

std::string Text(const json& object, const char* outer, const char* key) {
  json value = Nested(object, outer, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

struct Globals {
  std::string socket;
  std::string namespace_ = "default";
  bool all_namespaces = false;
};

// A kubectl-style failure: "error: ..." on stderr, exit code 1.
int UserError(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

std::string ReasonOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "BadRequest";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "Conflict";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "Forbidden";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "Timeout";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "MethodNotAllowed";
    default:
      return "InternalError";
  }
}

class Client {
 public:
  explicit Client(const Globals& globals) : globals_(globals) {
    channel_ = grpc::CreateChannel("unix://" + globals.socket, grpc::InsecureChannelCredentials());
    pods_ = pv1::PodService::NewStub(channel_);
    images_ = cri::ImageService::NewStub(channel_);
    runtime_ = cri::RuntimeService::NewStub(channel_);
  }

  pv1::PodService::Stub& pods() { return *pods_; }
  cri::ImageService::Stub& images() { return *images_; }
  cri::RuntimeService::Stub& runtime() { return *runtime_; }
  const Globals& globals() const { return globals_; }

  // Prints a failed call as kubectl would and returns 1.
  int Failed(const grpc::Status& status) const {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      struct stat st {};
      std::string why =
          ::stat(globals_.socket.c_str(), &st) != 0 ? "no such socket" : status.error_message();
      std::cerr << "error: cannot reach peapodd at " << globals_.socket << ": " << why
                << "; is it running?\n";
      return 1;
    }
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return UserError(status.error_message());
    }
    std::cerr << "Error from server (" << ReasonOf(status.error_code())
              << "): " << status.error_message() << "\n";
    return 1;
  }

 private:
  Globals globals_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pv1::PodService::Stub> pods_;
  std::unique_ptr<cri::ImageService::Stub> images_;
  std::unique_ptr<cri::RuntimeService::Stub> runtime_;
};

// ---- manifests ------------------------------------------------------------------------------

bool ReadFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

// FILE, DIR (its *.yaml, *.yml and *.json, in name order, as kubectl without -R) or "-".
int CollectManifests(const std::vector<std::string>& paths,
                     google::protobuf::RepeatedPtrField<pv1::ManifestFile>* files) {
  if (paths.empty()) return UserError("must specify one of -f and -k");
  for (const auto& path : paths) {
    if (path == "-") {
      std::ostringstream text;
      text << std::cin.rdbuf();
      auto* f = files->Add();
      f->set_name("-");
      f->set_text(text.str());
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) return UserError("no manifest files (*.yaml, *.yml, *.json) in " + path);
      for (const auto& file : found) {
        auto* f = files->Add();
        f->set_name(file);
        if (!ReadFile(file, *f->mutable_text())) return UserError("cannot read " + file);
      }
      continue;
    }
    auto* f = files->Add();
    f->set_name(path);
    if (!ReadFile(path, *f->mutable_text())) {
      return UserError("the path \"" + path + "\" does not exist");
    }
  }
  return 0;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool IsPodResource(const std::string& r) { return r == "pod" || r == "pods" || r == "po"; }

// ---- pod verbs ------------------------------------------------------------------------------

int Apply(Client& client, const std::vector<std::string>& paths, bool strict,
          bool ignore_unsupported) {
  pv1::ApplyRequest req;
  if (int rc = CollectManifests(paths, req.mutable_files()); rc != 0) return rc;
  req.set_strict(strict);
  req.set_ignore_unsupported(ignore_unsupported);
  pv1::ApplyResponse resp;
  grpc::ClientContext ctx;
  auto status = client.pods().Apply(&ctx, req, &resp);
  if (!status.ok()) {
    int rc = client.Failed(status);
    // With --strict, harmless fields are errors that --ignore-unsupported does not lift.
    if (!ignore_unsupported && !strict &&
        status.error_message().find("not supported by peapod") != std::string::npos) {
      std::cerr << "(--ignore-unsupported applies the rest, without what is not supported)\n";
    }
    return rc;
  }
  for (const auto& w : resp.warnings()) std::cerr << "Warning: " << w << "\n";
  for (const auto& o : resp.objects()) {
    // Workloads with their API group, as kubectl prints them ("deployment.apps/web").
    std::string group = peapod::cli::WorkloadResource(o.kind());
    group = group.empty() ? "" : group.substr(group.find('.'));
    std::cout << Lower(o.kind()) << group << "/" << o.name() << " " << o.action() << "\n";
  }
  return 0;
}

int Delete(Client& client, const std::vector<std::string>& paths,
           const std::vector<std::string>& args, bool wait, bool ignore_not_found) {
  std::vector<pv1::DeleteRequest> requests;
  if (!paths.empty()) {
    pv1::DeleteRequest req;
    if (int rc = CollectManifests(paths, req.mutable_files()); rc != 0) return rc;
    requests.push_back(std::move(req));
  } else {
    if (args.size() < 2 || !IsPodResource(args[0])) {
      return UserError("expected `delete -f FILE` or `delete pod NAME...`");
    }
    for (size_t i = 1; i < args.size(); ++i) {
      pv1::DeleteRequest req;
      req.set_namespace_(client.globals().namespace_);
      req.set_name(args[i]);
      requests.push_back(std::move(req));
    }
  }
  int rc = 0;
  for (auto& req : requests) {
    req.set_wait(wait);
    pv1::DeleteResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods().Delete(&ctx, req, &resp);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::NOT_FOUND && !req.name().empty()) {
        if (ignore_not_found) continue;
        std::cerr << "Error from server (NotFound): pods \"" << req.name() << "\" not found\n";
        rc = 1;
        continue;
      }
      rc = client.Failed(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return rc;
      continue;
    }
    for (const auto& o : resp.objects()) {
      if (o.action() == "not found") {
        if (ignore_not_found) continue;
        std::cerr << "Error from server (NotFound): " << Lower(o.kind()) << "s \"" << o.name()
                  << "\" not found\n";
        rc = 1;
        continue;
      }
      std::cout << Lower(o.kind()) << " \"" << o.name() << "\" deleted\n";
    }
  }
  return rc;
}

struct PodList {
  std::vector<json> pods;
  int64_t now = 0;
};

int FetchPods(Client& client, const std::vector<std::string>& names, PodList& out) {
  const Globals& g = client.globals();
  if (names.empty()) {
    pv1::ListPodsRequest req;
    if (!g.all_namespaces) req.set_namespace_(g.namespace_);
    pv1::ListPodsResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods().ListPods(&ctx, req, &resp);
    if (!status.ok()) return client.Failed(status);
    for (const auto& p : resp.pods()) out.pods.push_back(ParseObject(p.json()));
    out.now = resp.now();
    std::sort(out.pods.begin(), out.pods.end(), [](const json& a, const json& b) {
      return std::pair(Text(a, "metadata", "namespace"), Text(a, "metadata", "name")) <
             std::pair(Text(b, "metadata", "namespace"), Text(b, "metadata", "name"));
    });
    return 0;
  }
  int rc = 0;
  for (const auto& name : names) {
    pv1::GetPodRequest req;
    req.set_namespace_(g.namespace_);
    req.set_name(name);
    pv1::GetPodResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods().GetPod(&ctx, req, &resp);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return client.Failed(status);
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        std::cerr << "Error from server (NotFound): pods \"" << name << "\" not found\n";
        rc = 1;
        continue;
      }
      rc = client.Failed(status);
      continue;
    }
    out.pods.push_back(ParseObject(resp.pod().json()));
    out.now = resp.now();
  }
  return rc;
}

int Get(Client& client, const std::vector<std::string>& args, const std::string& output) {
  if (args.empty() || !IsPodResource(args[0])) {
    return UserError(args.empty() ? "you must specify the type of resource to get: pods"
                                  : "the server doesn't have a resource type \"" + args[0] + "\"");
  }
  if (!output.empty() && output != "wide" && output != "json" && output != "yaml" &&
      output != "name") {
    return UserError("unable to match a printer suitable for the output format \"" + output +
                     "\", allowed formats are: json,name,wide,yaml");
  }
  std::vector<std::string> names(args.begin() + 1, args.end());
  PodList list;
  int rc = FetchPods(client, names, list);
  if (list.pods.empty()) {
    if (names.empty() && rc == 0 && output != "json" && output != "yaml") {
      if (client.globals().all_namespaces) {
        std::cerr << "No resources found\n";
      } else {
        std::cerr << "No resources found in " << client.globals().namespace_ << " namespace.\n";
      }
      return 0;
    }
    if (rc != 0) return rc;
  }
  if (output == "json" || output == "yaml") {
    json doc = list.pods.size() == 1 && !names.empty()
                   ? list.pods.front()
                   : json{{"apiVersion", "v1"},
                          {"items", list.pods},
                          {"kind", "List"},
                          {"metadata", {{"resourceVersion", ""}}}};
    std::cout << (output == "json" ? doc.dump(4) + "\n" : peapod::cli::ToYaml(doc));
  } else if (output == "name") {
    for (const auto& p : list.pods) std::cout << "pod/" << Text(p, "metadata", "name") << "\n";
  } else {
    std::cout << peapod::cli::FormatPodTable(
        list.pods, list.now, output == "wide" ? GetFormat::kWide : GetFormat::kTable,
        client.globals().all_namespaces && names.empty());
  }
  return rc;
}

int Describe(Client& client, const std::vector<std::string>& args) {
  if (args.size() < 2 || !IsPodResource(args[0])) return UserError("expected `describe pod NAME`");
  int rc = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    pv1::GetPodRequest req;
    req.set_namespace_(client.globals().namespace_);
    req.set_name(args[i]);
    pv1::GetPodResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods().GetPod(&ctx, req, &resp);
    if (!status.ok()) {
      rc = client.Failed(status);
      continue;
    }
    std::vector<peapod::cli::EventRow> events;
    for (const auto& e : resp.events()) {
      events.push_back({e.type(), e.reason(), e.source(), e.message(), e.count(), e.first_seen(),
                        e.last_seen()});
    }
    if (i > 1) std::cout << "\n\n";
    std::cout << peapod::cli::DescribePod(ParseObject(resp.pod().json()), events, resp.now());
  }
  return rc;
}

struct LogsFlags {
  std::string pod;
  std::string container;
  bool follow = false;
  bool previous = false;
  int64_t tail = -1;
  bool timestamps = false;
  std::string since;  // a duration: "5s", "2m", "3h"
};

int Logs(Client& client, const LogsFlags& flags) {
  pv1::LogsRequest req;
  req.set_namespace_(client.globals().namespace_);
  req.set_pod(flags.pod);
  req.set_container(flags.container);
  req.set_follow(flags.follow);
  req.set_previous(flags.previous);
  if (flags.tail >= 0) req.set_tail_lines(flags.tail);
  if (!flags.since.empty()) {
    auto since = peapod::ParseDuration(flags.since);
    if (!since || since->count() <= 0) {
      return UserError("invalid argument \"" + flags.since +
                       "\" for \"--since\" flag: expected a duration such as 5s, 2m or 3h");
    }
    // Whole seconds, rounded up, as kubectl sends sinceSeconds.
    req.set_since_seconds((since->count() + 999) / 1000);
  }
  req.set_timestamps(flags.timestamps);
  grpc::ClientContext ctx;
  auto reader = client.pods().Logs(&ctx, req);
  pv1::LogChunk chunk;
  while (reader->Read(&chunk)) {
    std::cout << chunk.data();
    std::cout.flush();
  }
  auto status = reader->Finish();
  return status.ok() ? 0 : client.Failed(status);
}

int Exec(Client& client, const std::string& pod, const std::string& container,
         const std::vector<std::string>& command) {
  if (command.empty()) {
    return UserError("you must specify at least one command for the container");
  }
  pv1::ExecRequest req;
  req.set_namespace_(client.globals().namespace_);
  req.set_pod(pod);
  req.set_container(container);
  for (const auto& arg : command) req.add_command(arg);
  pv1::ExecResponse resp;
  grpc::ClientContext ctx;
  auto status = client.pods().Exec(&ctx, req, &resp);
  if (!status.ok()) return client.Failed(status);
  std::cout << resp.stdout();
  std::cout.flush();
  std::cerr << resp.stderr();
  // kubectl exits with the remote command's status.
  return resp.exit_code();
}

// ---- exec -it and attach: CRI streaming -----------------------------------------------------

// The CRI id of `container` (default: the pod's first) in a running pod, from the pod's status.
int RunningContainerId(Client& client, const std::string& pod, const std::string& container,
                       std::string* id) {
  pv1::GetPodRequest req;
  req.set_namespace_(client.globals().namespace_);
  req.set_name(pod);
  pv1::GetPodResponse resp;
  grpc::ClientContext ctx;
  auto status = client.pods().GetPod(&ctx, req, &resp);
  if (!status.ok()) return client.Failed(status);
  json j = ParseObject(resp.pod().json());
  std::string name = container;
  if (name.empty()) {
    json containers = Nested(j, "spec", "containers");
    if (containers.is_array() && !containers.empty()) name = Text(containers[0], "name");
  }
  json statuses = Nested(j, "status", "containerStatuses");
  if (statuses.is_array()) {
    for (const json& s : statuses) {
      if (Text(s, "name") != name) continue;
      std::string cid = Text(s, "containerID");
      if (cid.rfind("peapod://", 0) == 0) cid = cid.substr(9);
      if (cid.empty() || Nested(s, "state", "running").is_null()) break;
      *id = cid;
      return 0;
    }
  }
  return UserError("container " + name + " is not running in pod " + pod);
}

// The local terminal in raw mode while alive (keys go to the remote side as typed), with its
// size sent on start and on every SIGWINCH.
class LocalTerminal {
 public:
  explicit LocalTerminal(peapod::cri::streaming::TerminalSizeQueue* sizes) : sizes_(sizes) {
    if (::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    raw_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    if (!sizes_) return;
    PushSize();
    // SIGWINCH is blocked in every thread (see main) and taken here.
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    watcher_ = std::thread([this, winch] {
      timespec tick{0, 100 * 1000 * 1000};
      while (!stop_) {
        if (::sigtimedwait(&winch, nullptr, &tick) == SIGWINCH) PushSize();
      }
    });
  }
  ~LocalTerminal() {
    stop_ = true;
    if (watcher_.joinable()) watcher_.join();
    if (raw_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  void PushSize() {
    winsize ws{};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
      sizes_->Push({.width = ws.ws_col, .height = ws.ws_row});
    }
  }
  peapod::cri::streaming::TerminalSizeQueue* sizes_;
  termios saved_{};
  bool raw_ = false;
  std::atomic<bool> stop_ = false;
  std::thread watcher_;
};

// Runs the session behind a CRI streaming URL on this process's stdio; its exit code.
int RunSession(const std::string& url, bool in, bool tty) {
  namespace streaming = peapod::cri::streaming;
  streaming::TerminalSizeQueue sizes;
  streaming::RemoteCommandIo io;
  io.stdin_fd = in ? 0 : -1;
  io.stdout_fd = 1;
  io.stderr_fd = tty ? -1 : 2;
  io.tty = tty;
  io.resize = tty ? &sizes : nullptr;
  peapod::Result<int> code = 0;
  {
    std::unique_ptr<LocalTerminal> terminal;
    if (tty && ::isatty(0)) terminal = std::make_unique<LocalTerminal>(&sizes);
    code = streaming::RunRemoteCommand(url, io);
  }
  if (!code) return UserError(code.error().ToString());
  return *code;
}

int ExecInteractive(Client& client, const std::string& pod, const std::string& container,
                    const std::vector<std::string>& command, bool in, bool tty) {
  if (command.empty()) {
    return UserError("you must specify at least one command for the container");
  }
  cri::ExecRequest req;
  if (int rc = RunningContainerId(client, pod, container, req.mutable_container_id())) return rc;
  for (const auto& arg : command) req.add_cmd(arg);
  req.set_stdin(in);
  req.set_stdout(true);
  req.set_stderr(!tty);
  req.set_tty(tty);
  cri::ExecResponse resp;
  grpc::ClientContext ctx;
  auto status = client.runtime().Exec(&ctx, req, &resp);
  if (!status.ok()) return client.Failed(status);
  return RunSession(resp.url(), in, tty);
}

int Attach(Client& client, const std::string& pod, const std::string& container, bool in,
           bool tty) {
  cri::AttachRequest req;
  if (int rc = RunningContainerId(client, pod, container, req.mutable_container_id())) return rc;
  req.set_stdin(in);
  req.set_stdout(true);
  req.set_stderr(!tty);
  req.set_tty(tty);
  cri::AttachResponse resp;
  grpc::ClientContext ctx;
  auto status = client.runtime().Attach(&ctx, req, &resp);
  if (!status.ok()) return client.Failed(status);
  return RunSession(resp.url(), in, tty);
}

// ---- image verbs ----------------------------------------------------------------------------

// "docker.io/library/busybox:latest" -> {"docker.io/library/busybox", "latest"}.
std::pair<std::string, std::string> SplitTag(const std::string& ref) {
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) {
    return {ref, "<none>"};
  }
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

int Images(Client& client) {
  cri::ListImagesRequest req;
  cri::ListImagesResponse resp;
  grpc::ClientContext ctx;
  auto status = client.images().ListImages(&ctx, req, &resp);
  if (!status.ok()) return client.Failed(status);
  std::vector<std::vector<std::string>> rows = {{"IMAGE", "TAG", "IMAGE ID", "SIZE"}};
  for (const auto& image : resp.images()) {
    std::string id = image.id();
    if (id.starts_with("sha256:")) id = id.substr(7);
    id = id.substr(0, 13);
    std::string size = peapod::cli::HumanBytes(image.size());
    if (image.repo_tags().empty()) rows.push_back({"<none>", "<none>", id, size});
    for (const auto& tag : image.repo_tags()) {
      auto [repo, t] = SplitTag(tag);
      rows.push_back({repo, t, id, size});
    }
  }
  std::cout << peapod::cli::FormatTable(rows);
  return 0;
}

int Pull(Client& client, const std::string& ref) {
  pv1::PullImageRequest req;
  req.set_image(ref);
  grpc::ClientContext ctx;
  auto reader = client.pods().PullImage(&ctx, req);
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::vector<std::string> order;
  std::map<std::string, std::string> lines;
  size_t drawn = 0;
  pv1::PullImageProgress p;
  std::string image_id;
  while (reader->Read(&p)) {
    if (!p.image_id().empty()) image_id = p.image_id();
    if (p.digest().empty()) continue;
    if (!lines.contains(p.digest())) order.push_back(p.digest());
    lines[p.digest()] = peapod::cli::ProgressLine(p.digest(), p.bytes_done(), p.bytes_total(), 30);
    if (!tty) {
      if (p.done()) std::cout << lines[p.digest()] << "\n";
      continue;
    }
    // Redraw every bar in place: up over the ones drawn before, then each line afresh.
    if (drawn > 0) std::cout << "\x1b[" << drawn << "A";
    for (const auto& digest : order) std::cout << "\r\x1b[2K" << lines[digest] << "\n";
    drawn = order.size();
    std::cout.flush();
  }
  auto status = reader->Finish();
  if (!status.ok()) return client.Failed(status);
  std::cout << "Image is up to date for " << image_id << "\n";
  return 0;
}

int Load(Client& client, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return UserError("open " + path + ": " + std::strerror(errno));
  pv1::LoadImageResponse resp;
  grpc::ClientContext ctx;
  auto writer = client.pods().LoadImage(&ctx, &resp);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    pv1::LoadImageChunk chunk;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) break;  // the server answered early; Finish says why
  }
  writer->WritesDone();
  auto status = writer->Finish();
  if (!status.ok()) return client.Failed(status);
  if (resp.repo_tags().empty()) {
    for (const auto& id : resp.image_ids()) std::cout << "Loaded image ID: " << id << "\n";
  }
  for (const auto& tag : resp.repo_tags()) std::cout << "Loaded image: " << tag << "\n";
  return 0;
}

int RemoveImages(Client& client, const std::vector<std::string>& refs) {
  int rc = 0;
  for (const auto& ref : refs) {
    cri::ImageStatusRequest sreq;
    sreq.mutable_image()->set_image(ref);
    cri::ImageStatusResponse sresp;
    grpc::ClientContext sctx;
    auto status = client.images().ImageStatus(&sctx, sreq, &sresp);
    if (!status.ok()) return client.Failed(status);
    if (!sresp.has_image()) {
      std::cerr << "Error from server (NotFound): image \"" << ref << "\" not found\n";
      rc = 1;
      continue;
    }
    cri::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    cri::RemoveImageResponse resp;
    grpc::ClientContext ctx;
    status = client.images().RemoveImage(&ctx, req, &resp);
    if (!status.ok()) {
      rc = client.Failed(status);
      continue;
    }
    std::cout << "Deleted: " << ref << "\n";
  }
  return rc;
}

int Info(Client& client, bool version_only) {
  pv1::InfoResponse resp;
  grpc::ClientContext ctx;
  auto status = client.pods().Info(&ctx, pv1::InfoRequest(), &resp);
  if (version_only) {
    std::cout << "Client Version: " << PEAPOD_VERSION << "\n";
    if (!status.ok()) return client.Failed(status);
    std::cout << "Server Version: " << resp.version() << "\n";
    return 0;
  }
  if (!status.ok()) return client.Failed(status);
  std::vector<std::vector<std::string>> rows = {
      {"Server Version:", resp.version()},
      {"Socket:", resp.socket()},
      {"State Root:", resp.state_root()},
      {"Run Root:", resp.run_root()},
      {"CNI Network:", resp.cni_network().empty() ? "<none>" : resp.cni_network()},
      {"CNI Config:", resp.cni_config().empty() ? "<none>" : resp.cni_config()},
      {"Network Ready:", resp.network_ready() ? "true" : "false"},
      {"Pods:", std::to_string(resp.pods())},
      {"Images:", std::to_string(resp.images())},
  };
  auto extra = json::parse(resp.config_json(), nullptr, false);
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) {
      rows.push_back({k + ":", v.is_string() ? v.get<std::string>() : v.dump()});
    }
  }
  std::cout << peapod::cli::FormatTable(rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // exec -it and attach -it take SIGWINCH synchronously in one thread (LocalTerminal): blocked
  // before gRPC starts any thread, or one of those would get it and drop it (default: ignore).
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  ::pthread_sigmask(SIG_BLOCK, &winch, nullptr);
  Globals g;
  if (const char* env = std::getenv("PEAPOD_SOCKET"); env && *env) {
    g.socket = env;
  } else {
    g.socket = kDefaultSocket;
  }

  CLI::App app{"peapod: run Kubernetes pods on this node with peapodd"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--socket", g.socket, "peapodd's socket (env PEAPOD_SOCKET)")
      ->capture_default_str();
  app.add_option("-n,--namespace", g.namespace_, "the namespace")->capture_default_str();

  std::vector<std::string> files;
  bool strict = false;
  auto* apply = app.add_subcommand("apply", "create or update pods (and ConfigMaps, Secrets)");
  apply->add_option("-f,--filename", files, "manifest file, directory or - for stdin")->required();
  bool ignore_unsupported = false;
  apply->add_flag("--strict", strict,
                  "fail on fields peapod ignores, even those harmless to ignore");
  apply->add_flag("--ignore-unsupported", ignore_unsupported,
                  "apply without what peapod does not support (warnings instead of errors)");

  std::vector<std::string> args;
  bool wait = true, ignore_not_found = false;
  auto* del = app.add_subcommand("delete", "delete pods: -f FILE, or pod NAME...");
  del->add_option("-f,--filename", files, "manifest file, directory or -");
  del->add_option("args", args, "pod NAME...");
  del->add_option("--wait", wait, "return once the pods are gone")->capture_default_str();
  del->add_flag("--ignore-not-found", ignore_not_found, "no error for pods that do not exist");

  std::string output;
  auto* get = app.add_subcommand(
      "get", "list pods or workloads: get pods|deployments|statefulsets|jobs [NAME...]");
  get->add_option("args", args, "TYPE [NAME...] or TYPE/NAME...");
  get->add_option("-o,--output", output, "wide, json, yaml or name");
  get->add_flag("-A,--all-namespaces", g.all_namespaces, "pods of every namespace");

  auto* describe = app.add_subcommand("describe", "show a pod in detail: describe pod NAME");
  describe->add_option("args", args, "pod NAME...");

  LogsFlags logs_flags;
  auto* logs = app.add_subcommand("logs", "print a container's log");
  logs->add_option("pod", logs_flags.pod, "the pod")->required();
  logs->add_option("-c,--container", logs_flags.container, "the container (default: the first)");
  logs->add_flag("-f,--follow", logs_flags.follow, "keep streaming new lines");
  logs->add_flag("-p,--previous", logs_flags.previous, "the previous instance of the container");
  logs->add_option("--tail", logs_flags.tail, "the last N lines (-1: all)");
  logs->add_flag("--timestamps", logs_flags.timestamps, "prefix each line with its time");
  logs->add_option("--since", logs_flags.since, "only lines newer than a duration (5s, 2m, 3h)");

  std::string pod, container;
  std::vector<std::string> command;
  auto* exec = app.add_subcommand("exec", "run a command in a container: exec POD -- CMD...");
  exec->add_option("pod", pod, "the pod")->required();
  exec->add_option("command", command, "the command, after --");
  exec->add_option("-c,--container", container, "the container (default: the first)");
  bool interactive = false, tty = false;
  exec->add_flag("-i,--stdin", interactive, "pass stdin to the command");
  exec->add_flag("-t,--tty", tty, "run the command on a terminal");
  auto* attach = app.add_subcommand("attach", "attach to a running container: attach POD");
  attach->add_option("pod", pod, "the pod")->required();
  attach->add_option("-c,--container", container, "the container (default: the first)");
  attach->add_flag("-i,--stdin", interactive, "pass stdin to the container");
  attach->add_flag("-t,--tty", tty, "the container's stdin is a terminal");

  app.add_subcommand("images", "list images");
  std::string ref;
  auto* pull = app.add_subcommand("pull", "pull an image from its registry");
  pull->add_option("image", ref, "image reference")->required();
  std::string archive;
  auto* load = app.add_subcommand("load", "load a docker save or OCI archive");
  load->add_option("-i,--input", archive, "the archive")->required();
  std::vector<std::string> refs;
  auto* rmi = app.add_subcommand("rmi", "remove images");
  rmi->add_option("image", refs, "image references or ids")->required();
  app.add_subcommand("version", "client and server versions");
  peapod::cli::ImageFlags image_flags;
  auto* image = peapod::cli::AddImageCommands(app, image_flags);
  peapod::cli::MachineFlags machine_flags;
  auto* machine = peapod::cli::AddMachineCommands(app, machine_flags);
  app.add_subcommand("info", "what peapodd runs with");
  peapod::cli::WorkloadFlags workload_flags;
  peapod::cli::AddWorkloadCommands(app, workload_flags);
  std::string shell;
  auto* completion = app.add_subcommand("completion", "print a shell completion script");
  completion->add_option("shell", shell, "the shell: bash")
      ->required()
      ->check(CLI::IsMember({"bash"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  }

  const std::string verb = app.get_subcommands().front()->get_name();
  if (verb == "completion") {
    std::cout << peapod::cli::BashCompletion(app, "peapod");
    return 0;
  }
  Client client(g);
  peapod::cli::WorkloadClient workloads{
      client.pods(), g.namespace_, g.all_namespaces,
      [&client](const grpc::Status& status) { return client.Failed(status); }};
  if (verb == "scale") return peapod::cli::RunScale(workloads, workload_flags);
  if (verb == "rollout") return peapod::cli::RunRollout(workloads, workload_flags);
  if (peapod::cli::IsWorkloadArgs(args) && files.empty()) {
    if (verb == "get") return peapod::cli::GetWorkloads(workloads, args, output);
    if (verb == "describe") return peapod::cli::DescribeWorkloads(workloads, args);
    if (verb == "delete") {
      return peapod::cli::DeleteWorkloads(workloads, args, wait, ignore_not_found);
    }
  }
  if (verb == "apply") return Apply(client, files, strict, ignore_unsupported);
  if (verb == "delete") return Delete(client, files, args, wait, ignore_not_found);
  if (verb == "get") return Get(client, args, output);
  if (verb == "describe") return Describe(client, args);
  if (verb == "logs") return Logs(client, logs_flags);
  if (verb == "exec") {
    if (interactive || tty)
      return ExecInteractive(client, pod, container, command, interactive, tty);
    return Exec(client, pod, container, command);
  }
  if (verb == "attach") return Attach(client, pod, container, interactive, tty);
  if (verb == "images") return Images(client);
  if (verb == "pull") return Pull(client, ref);
  if (verb == "load") return Load(client, archive);
  if (verb == "rmi") return RemoveImages(client, refs);
  if (verb == "version") return Info(client, true);
  if (verb == "info") return Info(client, false);
  if (verb == "image") {
    return peapod::cli::RunImageCommand(
        *image, image_flags, client.pods(),
        [&client](const grpc::Status& status) { return client.Failed(status); });
  }
  if (verb == "machine") {
    return peapod::cli::RunMachineCommand(
        *machine, machine_flags, client.pods(), g.namespace_,
        [&client](const grpc::Status& status) { return client.Failed(status); });
  }
  return UserError("unknown command " + verb);
}
