#include "cli/model_source.h"

#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "hub/modelscope_download.h"
#include "hub/snapshot_download.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti::cli {

std::pair<ModelSource, std::string> split_model_source(const std::string& model) {
  static const std::pair<const char*, ModelSource> prefixes[] = {
      {"modelscope:", ModelSource::kModelScope}, {"ms:", ModelSource::kModelScope}, {"hf:", ModelSource::kHub}};
  for (const auto& [prefix, source] : prefixes) {
    const std::string p = prefix;
    if (model.rfind(p, 0) == 0) return {source, model.substr(p.size())};
  }
  return {default_model_source(), model};
}

ModelSource parse_model_source(const std::string& name) {
  if (name == "hf" || name == "huggingface" || name == "hub") return ModelSource::kHub;
  if (name == "modelscope" || name == "ms") return ModelSource::kModelScope;
  throw Error("'" + name + "' is not a model source (expected hf or modelscope)", ExitCode::kUsage);
}

ModelSource default_model_source() {
  const char* v = std::getenv("QSENTI_MODEL_SOURCE");
  if (!v || !*v) return ModelSource::kHub;
  try {
    return parse_model_source(v);
  } catch (const Error&) {
    throw Error(std::string("QSENTI_MODEL_SOURCE='") + v + "' is not a model source (expected hf or modelscope)",
                ExitCode::kUsage);
  }
}

const char* model_source_name(ModelSource s) {
  return s == ModelSource::kModelScope ? "ModelScope" : "the Hugging Face Hub";
}

bool looks_like_repo_id(const std::string& model) {
  std::error_code ec;
  if (model.empty() || fs::exists(model, ec)) return false;
  std::string repo = model;
  for (const char* p : {"modelscope:", "ms:", "hf:"})
    if (model.rfind(p, 0) == 0) repo = model.substr(std::string(p).size());
  try {
    hub::validate_repo_id(repo);
  } catch (const Error&) {
    return false;
  }
  return repo[0] != '.';
}

std::string hub_repo_for_size(const std::string& method, const std::string& size) {
  return (method == "embedding" ? "Qwen/Qwen3-Embedding-" : "Qwen/Qwen3-") + size;
}

std::string cached_repo_snapshot(const std::string& repo) {
  try {
    if (default_model_source() == ModelSource::kModelScope) return hub::modelscope_cached(repo);
    return hub::cached_snapshot(repo);
  } catch (const Error&) {
    return "";
  }
}

std::string resolve_model_source(const std::string& model, std::ostream& log) {
  if (!looks_like_repo_id(model)) return model;
  const auto [source, repo] = split_model_source(model);
  hub::SnapshotRequest rq;
  rq.repo_id = repo;
  rq.log = &log;
  hub::SnapshotResult r;
  if (source == ModelSource::kModelScope) {
    rq.revision = hub::kModelScopeDefaultRevision;
    r = hub::modelscope_download(hub::ModelScopeClient(hub::modelscope_options_from_env()), rq);
  } else {
    r = hub::snapshot_download(hub::HubClient(hub::hub_options_from_env()), rq);
  }
  log << "model " << repo << " (" << model_source_name(source) << "): " << r.path
      << (r.offline ? " (cache, offline)" : "") << "\n";
  return r.path;
}

}  // namespace qsenti::cli
