// CRI streaming benchmark: against a running peapodd (any CRI runtime with a streaming server
// speaking SPDY), times `exec true` round trips (Exec RPC + SPDY session until the exit status)
// and port-forward throughput (an HTTP download of a file of --mib MiB from busybox httpd in the
// pod, through the SPDY port-forward, into a socketpair). Prints n/median/p90 and MiB/s.
// Usage: peapod_bench_cri_streaming --socket /run/peapod/peapod.sock --image REF [--execs 50]
#include <grpcpp/create_channel.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "cri/proto/api.grpc.pb.h"
#include "peapod/cri/streaming/client.h"

namespace {

namespace v1 = ::runtime::v1;
namespace streaming = peapod::cri::streaming;
using Clock = std::chrono::steady_clock;

template <typename Req, typename Resp, typename Method>
bool Call(v1::RuntimeService::Stub& stub, Method method, const Req& req, Resp* resp,
          const char* what) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto status = (stub.*method)(&ctx, req, resp);
  if (!status.ok()) std::fprintf(stderr, "%s: %s\n", what, status.error_message().c_str());
  return status.ok();
}

void Report(const char* what, std::vector<double> ms) {
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  std::printf("%-28s n=%zu min=%.2fms median=%.2fms p90=%.2fms max=%.2fms\n", what, ms.size(),
              ms.front(), ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back());
}

// Downloads /big through one port-forward; bytes of body received, or -1.
long long Download(v1::RuntimeService::Stub& stub, const std::string& pod, double* seconds) {
  v1::PortForwardRequest req;
  req.set_pod_sandbox_id(pod);
  req.add_port(8080);
  v1::PortForwardResponse resp;
  if (!Call(stub, &v1::RuntimeService::Stub::PortForward, req, &resp, "PortForward")) return -1;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  auto start = Clock::now();
  std::thread forwarder([&] {
    auto s = streaming::ForwardPort(resp.url(), 8080, sv[1]);
    if (!s) std::fprintf(stderr, "port-forward: %s\n", s.error().ToString().c_str());
    ::shutdown(sv[1], SHUT_RDWR);
  });
  const char request[] = "GET /big HTTP/1.0\r\n\r\n";
  (void)!::write(sv[0], request, sizeof(request) - 1);
  std::vector<char> buf(1 << 20);
  long long total = 0;
  for (;;) {
    ssize_t n = ::read(sv[0], buf.data(), buf.size());
    if (n <= 0) break;
    total += n;
  }
  forwarder.join();
  *seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(sv[0]);
  ::close(sv[1]);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket = "/run/peapod/peapod.sock";
  std::string image;
  int execs = 50;
  int mib = 256;
  CLI::App app{"CRI streaming benchmark: exec round trips and port-forward throughput"};
  app.add_option("--socket", socket, "CRI unix socket")->capture_default_str();
  app.add_option("--image", image, "a busybox image (pulled first)")->required();
  app.add_option("--execs", execs, "exec round trips to time")->capture_default_str();
  app.add_option("--mib", mib, "MiB to download through port-forward")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = v1::RuntimeService::NewStub(channel);
  {
    auto images = v1::ImageService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(image);
    v1::PullImageResponse pulled;
    auto status = images->PullImage(&ctx, pull, &pulled);
    if (!status.ok()) {
      std::fprintf(stderr, "PullImage %s: %s\n", image.c_str(), status.error_message().c_str());
      return 1;
    }
  }

  v1::RunPodSandboxRequest run;
  auto* meta = run.mutable_config()->mutable_metadata();
  meta->set_name("stream-bench");
  meta->set_uid("stream-bench-" + std::to_string(::getpid()));
  meta->set_namespace_("bench");
  v1::RunPodSandboxResponse pod;
  if (!Call(*stub, &v1::RuntimeService::Stub::RunPodSandbox, run, &pod, "RunPodSandbox")) return 1;
  int rc = 0;
  [&] {
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod.pod_sandbox_id());
    *create.mutable_sandbox_config() = run.config();
    auto* config = create.mutable_config();
    config->mutable_metadata()->set_name("web");
    config->mutable_image()->set_image(image);
    for (const char* arg : {"sh", "-c"}) config->add_command(arg);
    config->add_command("mkdir -p /www && dd if=/dev/zero of=/www/big bs=1048576 count=" +
                        std::to_string(mib) + " 2>/dev/null && exec httpd -f -p 8080 -h /www");
    v1::CreateContainerResponse created;
    if (!Call(*stub, &v1::RuntimeService::Stub::CreateContainer, create, &created, "Create")) {
      rc = 1;
      return;
    }
    v1::StartContainerRequest start;
    start.set_container_id(created.container_id());
    v1::StartContainerResponse started;
    if (!Call(*stub, &v1::RuntimeService::Stub::StartContainer, start, &started, "Start")) {
      rc = 1;
      return;
    }

    std::vector<double> total_ms, stream_ms;
    for (int i = 0; i < execs; ++i) {
      auto t0 = Clock::now();
      v1::ExecRequest req;
      req.set_container_id(created.container_id());
      req.add_cmd("true");
      req.set_stdout(true);
      v1::ExecResponse resp;
      if (!Call(*stub, &v1::RuntimeService::Stub::Exec, req, &resp, "Exec")) {
        rc = 1;
        return;
      }
      auto t1 = Clock::now();
      int devnull[2];
      if (::pipe(devnull) != 0) return;
      streaming::RemoteCommandIo io;
      io.stdout_fd = devnull[1];
      auto code = streaming::RunRemoteCommand(resp.url(), io);
      auto t2 = Clock::now();
      ::close(devnull[0]);
      ::close(devnull[1]);
      if (!code || *code != 0) {
        std::fprintf(stderr, "exec true failed: %s\n",
                     code ? std::to_string(*code).c_str() : code.error().ToString().c_str());
        rc = 1;
        return;
      }
      total_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
      stream_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    Report("exec true (RPC + stream)", total_ms);
    Report("exec true (stream only)", stream_ms);

    long long want = static_cast<long long>(mib) << 20;
    for (int attempt = 0; attempt < 600; ++attempt) {  // until dd finished and httpd serves
      double seconds = 0;
      long long got = Download(*stub, pod.pod_sandbox_id(), &seconds);
      if (got > want) {
        std::printf("port-forward download: %.1f MiB in %.3fs = %.1f MiB/s\n",
                    static_cast<double>(got) / (1 << 20), seconds,
                    static_cast<double>(got) / (1 << 20) / seconds);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::fprintf(stderr, "port-forward never delivered %d MiB\n", mib);
    rc = 1;
  }();
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod.pod_sandbox_id());
  v1::StopPodSandboxResponse stopped;
  Call(*stub, &v1::RuntimeService::Stub::StopPodSandbox, stop, &stopped, "StopPodSandbox");
  v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod.pod_sandbox_id());
  v1::RemovePodSandboxResponse removed;
  Call(*stub, &v1::RuntimeService::Stub::RemovePodSandbox, remove, &removed, "RemovePodSandbox");
  return rc;
}
