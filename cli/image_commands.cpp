#include "image_commands.h"

#include <grpcpp/client_context.h>

#include <iostream>

#include "peapod/cli/format_prune.h"

namespace peapod::cli {

CLI::App* AddImageCommands(CLI::App& app, ImageFlags& flags) {
  auto* image = app.add_subcommand("image", "manage images: image prune");
  image->require_subcommand(1);
  auto* prune = image->add_subcommand(
      "prune", "remove unused images: untagged ones, or with --all every image no container uses");
  prune->add_flag("-a,--all", flags.all, "every unused image, tagged or not");
  return image;
}

int RunImageCommand(CLI::App& image, const ImageFlags& flags, ::peapod::v1::PodService::Stub& pods,
                    const std::function<int(const grpc::Status&)>& failed) {
  (void)image;  // prune is its only verb
  ::peapod::v1::PruneImagesRequest req;
  req.set_all(flags.all);
  ::peapod::v1::PruneImagesResponse resp;
  grpc::ClientContext ctx;
  auto status = pods.PruneImages(&ctx, req, &resp);
  if (!status.ok()) return failed(status);
  std::vector<PrunedImageRow> rows;
  for (const auto& i : resp.images()) {
    rows.push_back({i.id(), {i.repo_tags().begin(), i.repo_tags().end()}, i.freed_bytes()});
  }
  std::cout << FormatPruneSummary(rows, resp.freed_bytes());
  for (const auto& error : resp.errors()) std::cerr << "error: " << error << "\n";
  return resp.errors().empty() ? 0 : 1;
}

}  // namespace peapod::cli
