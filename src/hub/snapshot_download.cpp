#include "hub/snapshot_download.h"

#include <fnmatch.h>

#include <atomic>
#include <filesystem>
#include <iostream>

#include "hub/http.h"
#include "hub/workers.h"

namespace fs = std::filesystem;

namespace qsenti::hub {

bool matches_any(const std::string& path, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (std::string p : patterns) {
    if (!p.empty() && p.back() == '/') p += "*";
    if (::fnmatch(p.c_str(), path.c_str(), 0) == 0) return true;
  }
  return false;
}

namespace {

void place_in_local_dir(const std::string& blob, const std::string& dst) {
  fs::create_directories(fs::path(dst).parent_path());
  std::error_code ec;
  if (fs::exists(dst, ec) && fs::equivalent(dst, blob, ec)) return;
  const std::string tmp = dst + ".qsenti-tmp";
  fs::remove(tmp, ec);
  fs::create_hard_link(blob, tmp, ec);
  if (ec) fs::copy_file(blob, tmp, fs::copy_options::overwrite_existing);  // another file system
  fs::rename(tmp, dst);
}

std::vector<std::string> snapshot_files(const std::string& dir, const std::vector<std::string>& include) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory()) continue;
    const std::string rel = fs::relative(it->path(), dir).generic_string();
    if (matches_any(rel, include)) out.push_back(rel);
  }
  return out;
}

SnapshotResult from_cache(const HubCache& cache, const SnapshotRequest& rq, const std::string& dir) {
  SnapshotResult res;
  res.path = dir;
  res.commit = fs::path(dir).filename().string();
  const auto files = snapshot_files(dir, rq.include);
  res.files = static_cast<int64_t>(files.size());
  res.offline = true;
  if (!rq.local_dir.empty()) {
    for (const auto& f : files) place_in_local_dir(fs::canonical(dir + "/" + f).string(), rq.local_dir + "/" + f);
    res.path = rq.local_dir;
  }
  return res;
}

}  // namespace

std::string cached_snapshot(const std::string& repo_id, const std::string& revision, const std::string& cache_dir) {
  HubCache cache(cache_dir.empty() ? default_cache_dir() : cache_dir, repo_id);
  return cache.find_snapshot(revision).value_or("");
}

SnapshotResult snapshot_download(const HubClient& client, const SnapshotRequest& rq) {
  std::ostream& log = rq.log ? *rq.log : std::cerr;
  const HubCache cache(rq.cache_dir.empty() ? default_cache_dir() : rq.cache_dir, rq.repo_id);
  if (rq.revision.empty() || rq.revision.find("..") != std::string::npos || rq.revision[0] == '/')
    throw Error("'" + rq.revision + "' is not a revision", ExitCode::kUsage);
  const std::string where = rq.repo_id + "@" + rq.revision;

  if (client.options().offline) {
    if (auto dir = cache.find_snapshot(rq.revision)) return from_cache(cache, rq, *dir);
    throw Error("HF_HUB_OFFLINE is set and " + where + " is not in the cache " + cache.cache_dir() +
                ": download it once without HF_HUB_OFFLINE (qsenti download " + rq.repo_id + ")");
  }

  RepoInfo info;
  const auto cached = cache.find_snapshot(rq.revision);
  try {
    // With a cached copy to fall back on, an unreachable Hub is not waited for.
    info = client.repo_info(rq.repo_id, rq.revision, cached ? 1 : -1);
  } catch (const TransportError& e) {
    // No connection: what the cache has is what huggingface_hub would use too.
    if (cached) {
      log << "qsenti: cannot reach " << client.options().endpoint << " (" << e.what() << "); using the cached "
          << *cached << "\n";
      return from_cache(cache, rq, *cached);
    }
    throw Error("cannot reach " + client.options().endpoint + " for " + where + " (" + e.what() +
                ") and it is not in the cache " + cache.cache_dir() + "; a mirror can be set with HF_ENDPOINT");
  }

  std::vector<std::string> files;
  for (const auto& f : info.files)
    if (matches_any(f, rq.include)) files.push_back(f);
  if (files.empty())
    throw Error(where + " has no file matching --include (it has " + std::to_string(info.files.size()) + " files)",
                ExitCode::kUsage);

  // Metadata of what is not linked yet (a commit's files never change).
  std::vector<FileMetadata> meta(files.size());
  std::vector<char> need(files.size(), 0);
  std::error_code ec;
  for (size_t i = 0; i < files.size(); ++i) need[i] = !fs::exists(cache.pointer_path(info.commit, files[i]), ec);
  parallel_for(files.size(), rq.workers, [&](size_t i) {
    if (!need[i]) return;
    try {
      meta[i] = client.file_metadata(rq.repo_id, info.commit, files[i]);
    } catch (const TransportError& e) {
      throw Error(rq.repo_id + "/" + files[i] + ": " + e.what());
    }
  });

  int64_t total = 0, todo_files = 0;
  for (size_t i = 0; i < files.size(); ++i)
    if (need[i]) {
      total += meta[i].size - HubClient::bytes_present(cache, meta[i]);
      ++todo_files;
    }
  SnapshotResult res;
  res.commit = info.commit;
  res.files = static_cast<int64_t>(files.size());
  std::atomic<int64_t> bytes{0}, done_files{0};
  {
    ByteProgress progress(total, rq.progress && total > 0,
                          "download " + rq.repo_id + " (" + std::to_string(todo_files) + " files)");
    parallel_for(files.size(), rq.workers, [&](size_t i) {
      if (!need[i]) return;
      const bool had_blob = fs::exists(cache.blob_path(meta[i].etag), ec);
      try {
        client.download_blob(cache, files[i], meta[i], [&](int64_t n) {
          bytes += n;
          progress.add(n);
        });
      } catch (const TransportError& e) {
        throw Error(files[i] + ": " + e.what());
      }
      cache.link_blob(info.commit, files[i], meta[i].etag);
      if (!had_blob) ++done_files;
    });
    progress.finish();
  }
  res.downloaded_bytes = bytes;
  res.downloaded_files = done_files;
  cache.write_ref(rq.revision, info.commit);
  res.path = cache.snapshot_dir(info.commit);
  if (!rq.local_dir.empty()) {
    for (const auto& f : files)
      place_in_local_dir(fs::canonical(cache.pointer_path(info.commit, f)).string(), rq.local_dir + "/" + f);
    res.path = rq.local_dir;
  }
  return res;
}

}  // namespace qsenti::hub
