#pragma once
// A whole ModelScope repo (or the files matching some globs) at one revision,
// into ModelScope's cache (hub/modelscope_cache.h): listed once, downloaded by
// several workers with one progress line, files already there at the listed
// size and SHA-256 kept. The folder's record of a finished download is
// removed before any file is replaced and written last, so a failed run never
// looks complete offline.
#include <string>
#include <vector>

#include "hub/modelscope_client.h"
#include "hub/snapshot_download.h"

namespace qsenti::hub {

// ModelScope's default branch (the Hub's is "main").
inline constexpr const char* kModelScopeDefaultRevision = "master";

// The request's fields as for the Hub (revision: a ModelScope branch or tag;
// local_dir: the files straight there instead of the cache); the result's
// `commit` is the revision, as ModelScope's listing names no commit.
SnapshotResult modelscope_download(const ModelScopeClient& client, const SnapshotRequest& request);

// The cached folder of a finished download of repo_id (revision empty: any),
// without any network: empty if none. Ours (the layout both SDKs read) first,
// then a snapshot the SDK since 1.40 downloaded itself
// (<MODELSCOPE_CACHE or ~/.cache/modelscope>/models/<owner>--<name>/snapshots/<rev>).
std::string modelscope_cached(const std::string& repo_id, const std::string& revision = "",
                              const std::string& cache_dir = "");

}  // namespace qsenti::hub
