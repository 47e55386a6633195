#pragma once
// A whole repo (or the files matching some globs) at one revision, into the
// Hugging Face cache: listed, HEADed and downloaded by several workers at
// once, one progress line for all the bytes. refs/<revision> is written last,
// so a failed run never makes an incomplete snapshot look current offline.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hub/hub_client.h"

namespace qsenti::hub {

struct SnapshotRequest {
  std::string repo_id;
  std::string revision = "main";
  std::vector<std::string> include;  // fnmatch globs as huggingface_hub's allow_patterns; empty: all
  std::string cache_dir;             // empty: default_cache_dir()
  std::string local_dir;             // also place the files here (hard links to the blobs, else copies)
  int workers = 4;
  bool progress = true;
  std::ostream* log = nullptr;       // notes (falling back to the cache); default std::cerr
};

struct SnapshotResult {
  std::string path;        // the snapshot folder, or local_dir when given
  std::string commit;
  int64_t files = 0;       // files in the snapshot that matched
  int64_t downloaded_files = 0;
  int64_t downloaded_bytes = 0;
  bool offline = false;    // served from the cache without asking the Hub
};

// huggingface_hub's pattern rule: fnmatch without FNM_PATHNAME ('*' crosses
// '/'), and a pattern ending in '/' means everything below it.
bool matches_any(const std::string& path, const std::vector<std::string>& patterns);

SnapshotResult snapshot_download(const HubClient& client, const SnapshotRequest& request);

// The cached snapshot of repo_id@revision, without any network: empty if none.
std::string cached_snapshot(const std::string& repo_id, const std::string& revision = "main",
                            const std::string& cache_dir = "");

}  // namespace qsenti::hub
