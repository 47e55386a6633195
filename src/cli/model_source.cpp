#include "cli/model_source.h"

#include <filesystem>
#include <ostream>

#include "hub/snapshot_download.h"

namespace fs = std::filesystem;

namespace qsenti::cli {

bool looks_like_repo_id(const std::string& model) {
  std::error_code ec;
  if (model.empty() || fs::exists(model, ec)) return false;
  try {
    hub::validate_repo_id(model);
  } catch (const Error&) {
    return false;
  }
  return model[0] != '.';
}

std::string hub_repo_for_size(const std::string& method, const std::string& size) {
  return (method == "embedding" ? "Qwen/Qwen3-Embedding-" : "Qwen/Qwen3-") + size;
}

std::string cached_repo_snapshot(const std::string& repo) {
  try {
    return hub::cached_snapshot(repo);
  } catch (const Error&) {
    return "";
  }
}

std::string resolve_model_source(const std::string& model, std::ostream& log) {
  if (!looks_like_repo_id(model)) return model;
  const hub::HubClient client(hub::hub_options_from_env());
  hub::SnapshotRequest rq;
  rq.repo_id = model;
  rq.log = &log;
  const hub::SnapshotResult r = hub::snapshot_download(client, rq);
  log << "model " << model << ": " << r.path << (r.offline ? " (cache, offline)" : "") << "\n";
  return r.path;
}

}  // namespace qsenti::cli
