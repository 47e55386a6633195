#include "hub/modelscope_download.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <vector>

#include "hub/digest.h"
#include "hub/http.h"
#include "hub/workers.h"

namespace fs = std::filesystem;

namespace qsenti::hub {

namespace {

ModelScopeCache cache_for(const SnapshotRequest& rq) {
  if (!rq.local_dir.empty()) return ModelScopeCache::in_folder(rq.local_dir, rq.repo_id);
  return ModelScopeCache(rq.cache_dir.empty() ? modelscope_default_cache_dir() : rq.cache_dir, rq.repo_id);
}

SnapshotResult from_cache(const std::string& dir, const ModelScopeCache& cache, const std::string& revision) {
  SnapshotResult r;
  r.path = dir;
  const auto m = cache.read_manifest();
  r.commit = m ? m->revision : revision;
  r.files = m ? static_cast<int64_t>(m->files.size()) : 0;
  r.offline = true;
  return r;
}

// A file already in the folder is kept when it has the listed size and
// SHA-256 (taken from the last finished download's record when it lists the
// same digest, else computed).
bool is_current(const ModelScopeCache& cache, const ModelScopeFile& f, const std::map<std::string, std::string>& known) {
  std::error_code ec;
  const std::string path = cache.file_path(f.path);
  const auto size = fs::file_size(path, ec);
  if (ec || static_cast<int64_t>(size) != f.size) return false;
  if (f.sha256.empty()) return true;
  auto it = known.find(f.path);
  if (it != known.end() && it->second == f.sha256) return true;
  return sha256_file(path) == f.sha256;
}

}  // namespace

namespace {

bool has_entries(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

// What the SDK since 1.40 (modelscope_hub) downloads itself:
// <base>/models/<owner>--<name>/snapshots/<revision>/, base MODELSCOPE_CACHE
// or ~/.cache/modelscope (no hub/ below it, unlike the older layout). With no
// revision asked: master, main, or the only one there, as the SDK picks offline.
std::string sdk_snapshot(const std::string& repo_id, const std::string& revision, const std::string& cache_dir) {
  std::string base = cache_dir.empty() ? modelscope_cache_env() : cache_dir;
  if (base.empty()) {
    const char* home = std::getenv("HOME");
    base = std::string(home ? home : "") + "/.cache/modelscope";
  }
  const auto slash = repo_id.find('/');
  const std::string safe = repo_id.substr(0, slash) + "--" + repo_id.substr(slash + 1);  // as the SDK writes it
  const fs::path snapshots = fs::path(base) / "models" / safe / "snapshots";
  if (!revision.empty()) return has_entries(snapshots / revision) ? (snapshots / revision).string() : "";
  for (const char* name : {"master", "main"})
    if (has_entries(snapshots / name)) return (snapshots / name).string();
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(snapshots, ec))
    if (e.is_directory(ec)) found.push_back(e.path());
  return found.size() == 1 && has_entries(found[0]) ? found[0].string() : "";
}

}  // namespace

std::string modelscope_cached(const std::string& repo_id, const std::string& revision, const std::string& cache_dir) {
  const ModelScopeCache cache(cache_dir.empty() ? modelscope_default_cache_dir() : cache_dir, repo_id);
  if (auto own = cache.find_complete(revision)) return *own;
  return sdk_snapshot(repo_id, revision, cache_dir);
}

SnapshotResult modelscope_download(const ModelScopeClient& client, const SnapshotRequest& rq) {
  std::ostream& log = rq.log ? *rq.log : std::cerr;
  const ModelScopeCache cache = cache_for(rq);
  if (rq.revision.empty() || rq.revision.find("..") != std::string::npos || rq.revision[0] == '/')
    throw Error("'" + rq.revision + "' is not a revision", ExitCode::kUsage);
  const std::string where = rq.repo_id + "@" + rq.revision + " (ModelScope)";
  const auto cached = cache.find_complete(rq.revision, rq.include);

  if (client.options().offline) {
    if (cached) return from_cache(*cached, cache, rq.revision);
    // A snapshot the newer SDK downloaded itself serves the whole repo as it is.
    if (rq.include.empty() && rq.local_dir.empty()) {
      const std::string sdk = sdk_snapshot(rq.repo_id, rq.revision, rq.cache_dir);
      if (!sdk.empty()) {
        SnapshotResult r;
        r.path = sdk;
        r.commit = rq.revision;
        r.offline = true;
        std::error_code ec;
        for (const auto& e : fs::recursive_directory_iterator(sdk, ec)) r.files += e.is_regular_file(ec);
        return r;
      }
    }
    throw Error("HF_HUB_OFFLINE is set and " + where + " is not in the ModelScope cache " + cache.model_dir() +
                ": download it once without HF_HUB_OFFLINE (qsenti download " + rq.repo_id +
                " --source modelscope)");
  }

  std::vector<ModelScopeFile> listed;
  try {
    // With a finished copy to fall back on, an unreachable ModelScope is not waited for.
    listed = client.list_files(rq.repo_id, rq.revision, cached ? 1 : -1);
  } catch (const TransportError& e) {
    if (cached) {
      log << "qsenti: cannot reach " << client.options().endpoint << " (" << e.what() << "); using the cached "
          << *cached << "\n";
      return from_cache(*cached, cache, rq.revision);
    }
    throw Error("cannot reach " + client.options().endpoint + " for " + where + " (" + e.what() +
                ") and it is not in the cache " + cache.model_dir() + "; a mirror can be set with MODELSCOPE_ENDPOINT");
  }

  std::vector<ModelScopeFile> files;
  for (const auto& f : listed)
    if (matches_any(f.path, rq.include)) files.push_back(f);
  if (files.empty())
    throw Error(where + " has no file matching --include (it has " + std::to_string(listed.size()) + " files)",
                ExitCode::kUsage);

  std::map<std::string, std::string> known;  // path -> SHA-256 of the last finished download
  const auto previous = cache.read_manifest();
  if (previous)
    for (const auto& f : previous->files) known[f.path] = f.sha256;
  std::vector<char> need(files.size(), 0);
  parallel_for(files.size(), rq.workers, [&](size_t i) { need[i] = !is_current(cache, files[i], known); });

  int64_t total = 0, todo_files = 0;
  for (size_t i = 0; i < files.size(); ++i)
    if (need[i]) {
      total += files[i].size - bytes_present(ModelScopeClient::resumable(cache, files[i]));
      ++todo_files;
    }
  std::error_code ec;
  // From the first replaced file until the record is rewritten, the folder is not a finished download.
  if (todo_files > 0) fs::remove(cache.manifest_path(), ec);

  SnapshotResult res;
  res.commit = rq.revision;
  res.files = static_cast<int64_t>(files.size());
  std::atomic<int64_t> bytes{0}, done_files{0};
  {
    ByteProgress progress(total, rq.progress && total > 0,
                          "download " + rq.repo_id + " (" + std::to_string(todo_files) + " files)");
    parallel_for(files.size(), rq.workers, [&](size_t i) {
      if (!need[i]) return;
      try {
        client.download_file(cache, rq.repo_id, rq.revision, files[i], [&](int64_t n) {
          bytes += n;
          progress.add(n);
        });
      } catch (const TransportError& e) {
        throw Error(files[i].path + ": " + e.what());
      }
      ++done_files;
    });
    progress.finish();
  }
  res.downloaded_bytes = bytes;
  res.downloaded_files = done_files;
  ModelScopeManifest m;
  m.repo_id = rq.repo_id;
  m.revision = rq.revision;
  m.include = rq.include;
  m.files = files;
  // A part of the repo does not overwrite the record of the whole one at the same revision.
  const bool keep_whole = rq.include.size() && previous && previous->include.empty() &&
                          previous->revision == rq.revision && todo_files == 0;
  if (!keep_whole) cache.write_manifest(m);
  res.path = cache.model_dir();
  return res;
}

}  // namespace qsenti::hub
