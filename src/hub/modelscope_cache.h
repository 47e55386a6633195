#pragma once
// ModelScope's model cache, the layout its Python SDK `modelscope` writes
// (1.37, modelscope/hub/file_download.py: create_temporary_directory_and_cache)
// and its successor modelscope_hub reuses when present (0.5,
// _download.py: _find_legacy_repo_dir):
//   <root>/models/<owner>/<name>/<file>        one folder per repo, '.' in <name> as "___"
//   <root>/models/._____temp/<owner>/<name>/   partial downloads (<file>.incomplete, <file>.lock)
// <root> is MODELSCOPE_CACHE, else ~/.cache/modelscope/hub. The folder has no
// revisions: a later download replaces files in place (each one atomically).
// qsenti records what a finished download holds in <folder>/.qsenti-download.json,
// written last, so offline use never takes a half-downloaded folder for a model.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qsenti::hub {

// MODELSCOPE_CACHE ('~' expanded), else $HOME/.cache/modelscope/hub.
std::string modelscope_default_cache_dir();
// MODELSCOPE_CACHE with '~' expanded; empty when unset. (The SDK since 1.40
// defaults to ~/.cache/modelscope, without the hub/ above.)
std::string modelscope_cache_env();

struct ModelScopeFile {
  std::string path;    // "Path" in the listing
  int64_t size = -1;   // "Size"
  std::string sha256;  // "Sha256", lower-case hex; empty when the listing has none
};

// What a finished download recorded.
struct ModelScopeManifest {
  std::string repo_id, revision;
  std::vector<std::string> include;  // the --include globs; empty: the whole repo
  std::vector<ModelScopeFile> files;
};

class ModelScopeCache {
 public:
  // Throws qsenti::Error (usage) unless repo_id is "Owner/Name" with safe characters.
  ModelScopeCache(std::string cache_dir, std::string repo_id);
  // The SDK's local_dir: the files straight into `folder`, partial ones in
  // <folder>/._____temp.
  static ModelScopeCache in_folder(const std::string& folder, const std::string& repo_id);

  const std::string& cache_dir() const { return cache_dir_; }
  std::string model_dir() const;                            // <root>/models/<owner>/<name___>
  std::string file_path(const std::string& file) const;     // model_dir()/<file>
  std::string incomplete_path(const std::string& file) const;
  std::string lock_path(const std::string& file) const;
  std::string manifest_path() const;

  std::optional<ModelScopeManifest> read_manifest() const;
  void write_manifest(const ModelScopeManifest& m) const;  // atomically
  // The model folder if a finished download of `revision` (empty: any) of the
  // whole repo, or of the same `include` globs, is there with every recorded
  // file at its size. For offline use.
  std::optional<std::string> find_complete(const std::string& revision = "",
                                           const std::vector<std::string>& include = {}) const;

 private:
  std::string temp_dir() const;
  std::string cache_dir_, owner_, name_;
  std::string folder_;  // set by in_folder
};

}  // namespace qsenti::hub
