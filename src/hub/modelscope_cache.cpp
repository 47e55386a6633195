#include "hub/modelscope_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hub/hub_cache.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti::hub {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

// A file's path inside the temporary folder: flat, so that one lock or partial
// file never needs the repo's folders to exist.
std::string flat(const std::string& file) {
  std::string s = file;
  for (auto& c : s)
    if (c == '/') c = '%';
  return s;
}

}  // namespace

std::string modelscope_cache_env() {
  std::string v = env("MODELSCOPE_CACHE");
  if (v == "~" || v.rfind("~/", 0) == 0) v = env("HOME") + v.substr(1);  // the SDK expands it too
  return v;
}

std::string modelscope_default_cache_dir() {
  const std::string v = modelscope_cache_env();
  return v.empty() ? env("HOME") + "/.cache/modelscope/hub" : v;
}

ModelScopeCache::ModelScopeCache(std::string cache_dir, std::string repo_id) : cache_dir_(std::move(cache_dir)) {
  try {
    validate_repo_id(repo_id);  // the same safe Owner/Name as the Hub's
  } catch (const Error&) {
    throw Error("'" + repo_id + "' is not a ModelScope model id (expected Owner/Name, e.g. Qwen/Qwen3-0.6B)",
                ExitCode::kUsage);
  }
  const auto slash = repo_id.find('/');
  owner_ = repo_id.substr(0, slash);
  name_ = repo_id.substr(slash + 1);
  // The SDK's folder name: every '.' of the name as "___" (owners keep theirs).
  std::string masked;
  for (char c : name_) masked += c == '.' ? std::string("___") : std::string(1, c);
  name_ = masked;
}

ModelScopeCache ModelScopeCache::in_folder(const std::string& folder, const std::string& repo_id) {
  ModelScopeCache c(folder, repo_id);
  c.folder_ = folder;
  return c;
}

std::string ModelScopeCache::model_dir() const {
  return folder_.empty() ? cache_dir_ + "/models/" + owner_ + "/" + name_ : folder_;
}

std::string ModelScopeCache::file_path(const std::string& file) const {
  validate_repo_path(file);
  return model_dir() + "/" + file;
}

std::string ModelScopeCache::temp_dir() const {
  return folder_.empty() ? cache_dir_ + "/models/._____temp/" + owner_ + "/" + name_ : folder_ + "/._____temp";
}
std::string ModelScopeCache::incomplete_path(const std::string& file) const {
  return temp_dir() + "/" + flat(file) + ".incomplete";
}
std::string ModelScopeCache::lock_path(const std::string& file) const { return temp_dir() + "/" + flat(file) + ".lock"; }
std::string ModelScopeCache::manifest_path() const { return model_dir() + "/.qsenti-download.json"; }

std::optional<ModelScopeManifest> ModelScopeCache::read_manifest() const {
  std::ifstream in(manifest_path());
  if (!in) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(in);
    ModelScopeManifest m;
    m.repo_id = j.at("repo_id").get<std::string>();
    m.revision = j.at("revision").get<std::string>();
    m.include = j.value("include", std::vector<std::string>{});
    for (const auto& f : j.at("files")) {
      ModelScopeFile e;
      e.path = f.at("Path").get<std::string>();
      e.size = f.at("Size").get<int64_t>();
      e.sha256 = f.value("Sha256", "");
      validate_repo_path(e.path);
      m.files.push_back(e);
    }
    return m;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: as if the download never finished
  }
}

void ModelScopeCache::write_manifest(const ModelScopeManifest& m) const {
  nlohmann::json j{{"repo_id", m.repo_id}, {"revision", m.revision}, {"include", m.include}, {"files", nlohmann::json::array()}};
  for (const auto& f : m.files) j["files"].push_back({{"Path", f.path}, {"Size", f.size}, {"Sha256", f.sha256}});
  write_text_atomically(manifest_path(), j.dump(1) + "\n");
}

std::optional<std::string> ModelScopeCache::find_complete(const std::string& revision,
                                                          const std::vector<std::string>& include) const {
  const auto m = read_manifest();
  if (!m || (!revision.empty() && m->revision != revision)) return std::nullopt;
  if (!m->include.empty() && m->include != include) return std::nullopt;  // a part of the repo only
  std::error_code ec;
  for (const auto& f : m->files) {
    const auto size = fs::file_size(model_dir() + "/" + f.path, ec);
    if (ec || static_cast<int64_t>(size) != f.size) return std::nullopt;
  }
  return model_dir();
}

}  // namespace qsenti::hub
