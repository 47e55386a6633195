#pragma once
// The Hugging Face cache layout, shared with huggingface_hub and transformers:
//   <cache>/models--Org--Name/blobs/<etag>            file contents, by etag
//   <cache>/models--Org--Name/snapshots/<commit>/<f>  relative links to ../../blobs/<etag>
//   <cache>/models--Org--Name/refs/<revision>         the commit a branch or tag was at
//   <cache>/.locks/models--Org--Name/<etag>.lock      one writer per blob
// A snapshot only ever holds links to complete, verified blobs.
#include <optional>
#include <string>
#include <vector>

namespace qsenti::hub {

// HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (huggingface_hub's order, its legacy
// HUGGINGFACE_HUB_CACHE included).
std::string default_cache_dir();
// HF_HOME's resolution alone (where the token file lives).
std::string hf_home_dir();

bool is_commit_hash(const std::string& revision);  // 40 hex digits
// Throws qsenti::Error (usage) unless "Org/Name" with safe characters.
void validate_repo_id(const std::string& repo_id);
// Throws qsenti::InputError for a repo path that could leave its folder.
void validate_repo_path(const std::string& path);

class HubCache {
 public:
  HubCache(std::string cache_dir, std::string repo_id);

  const std::string& cache_dir() const { return cache_dir_; }
  std::string storage_dir() const;  // <cache>/models--Org--Name
  std::string blob_path(const std::string& etag) const;
  std::string incomplete_path(const std::string& etag) const;  // blob_path + ".incomplete"
  std::string lock_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string pointer_path(const std::string& commit, const std::string& file) const;

  std::optional<std::string> read_ref(const std::string& revision) const;
  // Replaces refs/<revision> atomically (nothing to do for a commit hash).
  void write_ref(const std::string& revision, const std::string& commit) const;
  // snapshots/<commit>/<file> -> ../../blobs/<etag> (as many ../ as the
  // file is deep), replacing an older link atomically.
  void link_blob(const std::string& commit, const std::string& file, const std::string& etag) const;

  // The commit a revision means here: itself for a commit hash, else its ref.
  std::optional<std::string> resolve_revision(const std::string& revision) const;
  // The snapshot folder of `revision` if it exists and holds every file of
  // `required` (paths in the repo; empty: any snapshot). For offline use.
  std::optional<std::string> find_snapshot(const std::string& revision,
                                           const std::vector<std::string>& required = {}) const;

 private:
  std::string cache_dir_;
  std::string repo_id_;
};

}  // namespace qsenti::hub
