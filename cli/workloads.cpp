// `peapod get|describe|delete` on workloads, `peapod scale` and `peapod rollout status|undo`,
// as kubectl prints them.
#include "workloads.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "peapod/cli/format_workload.h"
#include "peapod/parse.h"

namespace peapod::cli {
namespace {

namespace pv1 = ::peapod::v1;
using nlohmann::json;

int UserError(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

json ParseObject(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

struct Target {
  std::string kind;  // Job, Deployment, DaemonSet, StatefulSet
  std::string name;
};

// TYPE NAME... or TYPE/NAME...; an error message when neither.
std::string ParseTargets(const std::vector<std::string>& args, std::vector<Target>& out,
                         std::string* list_kind = nullptr) {
  if (args.empty()) return "you must specify the type of resource";
  if (args[0].find('/') == std::string::npos) {
    std::string kind = WorkloadKindOf(args[0]);
    if (kind.empty()) return "the server doesn't have a resource type \"" + args[0] + "\"";
    if (list_kind) *list_kind = kind;
    for (size_t i = 1; i < args.size(); ++i) out.push_back({kind, args[i]});
    return "";
  }
  for (const auto& arg : args) {
    size_t slash = arg.find('/');
    if (slash == std::string::npos) {
      return "there is no need to specify a resource type as a separate argument when passing "
             "arguments in resource/name form";
    }
    std::string kind = WorkloadKindOf(arg.substr(0, slash));
    if (kind.empty()) {
      return "the server doesn't have a resource type \"" + arg.substr(0, slash) + "\"";
    }
    if (slash + 1 == arg.size()) return "a resource name is required: " + arg;
    out.push_back({kind, arg.substr(slash + 1)});
  }
  return "";
}

// The server keeps a DaemonSet as a Deployment of one.
std::string ServerKind(const std::string& kind) {
  return kind == "DaemonSet" ? "Deployment" : kind;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int NotFound(const Target& t) {
  std::cerr << "Error from server (NotFound): " << WorkloadResource(t.kind) << " \"" << t.name
            << "\" not found\n";
  return 1;
}

// One workload; 0, or the exit code of a failure already printed.
int Fetch(WorkloadClient& client, const Target& t, pv1::GetWorkloadResponse& resp) {
  pv1::GetWorkloadRequest req;
  req.set_kind(ServerKind(t.kind));
  req.set_namespace_(client.namespace_);
  req.set_name(t.name);
  grpc::ClientContext ctx;
  auto status = client.pods.GetWorkload(&ctx, req, &resp);
  if (status.ok()) {
    if (resp.workload().kind() != t.kind) return NotFound(t);
    return 0;
  }
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return NotFound(t);
  return client.failed(status);
}

}  // namespace

bool IsWorkloadArgs(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  const std::string& first = args[0];
  return !WorkloadKindOf(first.substr(0, first.find('/'))).empty();
}

int GetWorkloads(WorkloadClient& client, const std::vector<std::string>& args,
                 const std::string& output) {
  if (!output.empty() && output != "json" && output != "yaml" && output != "name" &&
      output != "wide") {
    return UserError("unable to match a printer suitable for the output format \"" + output +
                     "\", allowed formats are: json,name,wide,yaml");
  }
  std::vector<Target> targets;
  std::string kind;
  if (auto problem = ParseTargets(args, targets, &kind); !problem.empty()) {
    return UserError(problem);
  }
  std::vector<json> items;
  int64_t now = 0;
  int rc = 0;
  if (targets.empty()) {
    pv1::ListWorkloadsRequest req;
    req.set_kind(ServerKind(kind));
    if (!client.all_namespaces) req.set_namespace_(client.namespace_);
    pv1::ListWorkloadsResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods.ListWorkloads(&ctx, req, &resp);
    if (!status.ok()) return client.failed(status);
    for (const auto& w : resp.workloads()) {
      if (w.kind() == kind) items.push_back(ParseObject(w.json()));
    }
    now = resp.now();
  } else {
    kind = targets.front().kind;
    for (const auto& t : targets) {
      pv1::GetWorkloadResponse resp;
      if (int failed = Fetch(client, t, resp); failed != 0) {
        rc = failed;
        continue;
      }
      items.push_back(ParseObject(resp.workload().json()));
      now = resp.now();
    }
  }
  if (items.empty() && targets.empty() && output != "json" && output != "yaml") {
    if (client.all_namespaces) {
      std::cerr << "No resources found\n";
    } else {
      std::cerr << "No resources found in " << client.namespace_ << " namespace.\n";
    }
    return 0;
  }
  if (items.empty()) return rc;
  if (output == "json" || output == "yaml") {
    json doc = items.size() == 1 && !targets.empty()
                   ? items.front()
                   : json{{"apiVersion", "v1"},
                          {"items", items},
                          {"kind", "List"},
                          {"metadata", {{"resourceVersion", ""}}}};
    std::cout << (output == "json" ? doc.dump(4) + "\n" : ToYaml(doc));
  } else if (output == "name") {
    for (const auto& o : items) {
      std::cout << Lower(kind) << "."
                << WorkloadResource(kind).substr(WorkloadResource(kind).find('.') + 1) << "/"
                << o["metadata"].value("name", "") << "\n";
    }
  } else {
    std::cout << FormatWorkloadTable(kind, items, now, client.all_namespaces && targets.empty());
  }
  return rc;
}

int DescribeWorkloads(WorkloadClient& client, const std::vector<std::string>& args) {
  std::vector<Target> targets;
  if (auto problem = ParseTargets(args, targets); !problem.empty()) return UserError(problem);
  if (targets.empty()) return UserError("expected `describe TYPE NAME`");
  int rc = 0;
  bool first = true;
  for (const auto& t : targets) {
    pv1::GetWorkloadResponse resp;
    if (int failed = Fetch(client, t, resp); failed != 0) {
      rc = failed;
      continue;
    }
    std::vector<EventRow> events;
    for (const auto& e : resp.events()) {
      events.push_back({e.type(), e.reason(), e.source(), e.message(), e.count(), e.first_seen(),
                        e.last_seen()});
    }
    std::vector<std::string> pods(resp.workload().pods().begin(), resp.workload().pods().end());
    if (!first) std::cout << "\n\n";
    first = false;
    std::cout << DescribeWorkload(ParseObject(resp.workload().json()), pods, events, resp.now());
  }
  return rc;
}

int DeleteWorkloads(WorkloadClient& client, const std::vector<std::string>& args, bool wait,
                    bool ignore_not_found) {
  std::vector<Target> targets;
  if (auto problem = ParseTargets(args, targets); !problem.empty()) return UserError(problem);
  if (targets.empty()) return UserError("resource(s) were provided, but no name was specified");
  int rc = 0;
  for (const auto& t : targets) {
    pv1::GetWorkloadResponse existing;
    grpc::ClientContext get_ctx;
    pv1::GetWorkloadRequest get;
    get.set_kind(ServerKind(t.kind));
    get.set_namespace_(client.namespace_);
    get.set_name(t.name);
    auto found = client.pods.GetWorkload(&get_ctx, get, &existing);
    if (found.ok() && existing.workload().kind() != t.kind) {
      if (!ignore_not_found) rc = NotFound(t);
      continue;
    }
    pv1::DeleteRequest req;
    req.set_kind(ServerKind(t.kind));
    req.set_namespace_(client.namespace_);
    req.set_name(t.name);
    req.set_wait(wait);
    pv1::DeleteResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods.Delete(&ctx, req, &resp);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        if (!ignore_not_found) rc = NotFound(t);
        continue;
      }
      rc = client.failed(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return rc;
      continue;
    }
    std::cout << Lower(t.kind) << "."
              << WorkloadResource(t.kind).substr(WorkloadResource(t.kind).find('.') + 1) << " \""
              << t.name << "\" deleted\n";
  }
  return rc;
}

void AddWorkloadCommands(CLI::App& app, WorkloadFlags& flags) {
  auto* scale = app.add_subcommand("scale",
                                   "set a Deployment's or StatefulSet's replicas: "
                                   "scale deployment/NAME --replicas=N");
  scale->add_option("args", flags.args, "TYPE/NAME or TYPE NAME")->required();
  scale->add_option("--replicas", flags.replicas, "the number of replicas")->required();
  auto* rollout = app.add_subcommand("rollout", "manage a rollout: rollout status|undo TYPE/NAME");
  rollout->add_option("verb", flags.rollout_verb, "status or undo")
      ->required()
      ->check(CLI::IsMember({"status", "undo"}));
  rollout->add_option("args", flags.args, "TYPE/NAME or TYPE NAME")->required();
  rollout
      ->add_option("--timeout", flags.timeout,
                   "status: how long to wait (0s: forever); exits 1 when it passes")
      ->capture_default_str();
  rollout
      ->add_option("--to-revision", flags.to_revision,
                   "undo: the revision to roll back to (0: the previous one)")
      ->capture_default_str();
}

int RunScale(WorkloadClient& client, const WorkloadFlags& flags) {
  std::vector<Target> targets;
  if (auto problem = ParseTargets(flags.args, targets); !problem.empty()) {
    return UserError(problem);
  }
  if (targets.empty()) return UserError("resource(s) were provided, but no name was specified");
  if (flags.replicas < 0)
    return UserError(
        "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
  int rc = 0;
  for (const auto& t : targets) {
    if (t.kind != "Deployment" && t.kind != "StatefulSet") {
      rc = UserError("cannot scale a " + t.kind + ": only deployments and statefulsets");
      continue;
    }
    pv1::ScaleRequest req;
    req.set_kind(t.kind);
    req.set_namespace_(client.namespace_);
    req.set_name(t.name);
    req.set_replicas(flags.replicas);
    pv1::ScaleResponse resp;
    grpc::ClientContext ctx;
    auto status = client.pods.Scale(&ctx, req, &resp);
    if (!status.ok()) {
      rc = status.error_code() == grpc::StatusCode::NOT_FOUND ? NotFound(t) : client.failed(status);
      continue;
    }
    std::cout << Lower(t.kind) << ".apps/" << t.name << " scaled\n";
  }
  return rc;
}

namespace {

int RolloutStatus(WorkloadClient& client, const Target& t, std::chrono::milliseconds timeout) {
  if (t.kind == "Job") return UserError("no status viewer has been implemented for jobs.batch");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (true) {
    pv1::GetWorkloadResponse resp;
    if (int failed = Fetch(client, t, resp); failed != 0) return failed;
    json object = ParseObject(resp.workload().json());
    RolloutProgress progress = t.kind == "StatefulSet" ? StatefulSetRolloutStatus(object)
                                                       : DeploymentRolloutStatus(object);
    if (progress.message != last) std::cout << progress.message << "\n" << std::flush;
    last = progress.message;
    if (progress.done) return 0;
    if (timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
      return UserError("timed out waiting for the condition");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

int RunRollout(WorkloadClient& client, const WorkloadFlags& flags) {
  std::vector<Target> targets;
  if (auto problem = ParseTargets(flags.args, targets); !problem.empty()) {
    return UserError(problem);
  }
  if (targets.size() != 1) return UserError("rollout " + flags.rollout_verb + " takes one NAME");
  const Target& t = targets.front();
  if (flags.rollout_verb == "status") {
    auto timeout = ParseDuration(flags.timeout);
    if (!timeout) return UserError("--timeout: " + timeout.error().message);
    return RolloutStatus(client, t, *timeout);
  }
  if (t.kind != "Deployment") {
    return UserError("rollout undo: only deployments are supported by peapod");
  }
  pv1::RolloutUndoRequest req;
  req.set_namespace_(client.namespace_);
  req.set_name(t.name);
  req.set_to_revision(flags.to_revision);
  pv1::RolloutUndoResponse resp;
  grpc::ClientContext ctx;
  auto status = client.pods.RolloutUndo(&ctx, req, &resp);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return NotFound(t);
    return client.failed(status);
  }
  std::cout << "deployment.apps/" << t.name << " rolled back\n";
  return 0;
}

}  // namespace peapod::cli
