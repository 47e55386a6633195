#pragma once
// The Hugging Face Hub's download protocol, as huggingface_hub speaks it:
//  - the file list: GET {endpoint}/api/models/{repo}/revision/{rev} ("sha", "siblings");
//  - each file's metadata: HEAD {endpoint}/{repo}/resolve/{rev}/{file}, redirects
//    not followed except relative ones (a renamed repo); X-Repo-Commit,
//    X-Linked-Etag or ETag, X-Linked-Size or Content-Length, and the Location
//    of a CDN redirect, which is then downloaded without the Authorization header;
//  - the bytes: GET of that location into blobs/<etag>.incomplete, resumed with
//    Range after a dropped connection or a killed process, its size checked,
//    and its SHA-256 (LFS files, whose etag is the oid) or git blob SHA-1
//    (plain files) checked before it is renamed to blobs/<etag>.
// 5xx, 408, 429 and dropped connections are retried with exponential backoff.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/hub_cache.h"
#include "util/error.h"

namespace qsenti::hub {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::optional<std::string> token;                 // HF_TOKEN, else the token file
  bool offline = false;                             // HF_HUB_OFFLINE
  int max_retries = 5;         // per request, after the first try
  double backoff_s = 1.0;      // the first wait; doubled each time, at most 16x
  double connect_timeout_s = 10;
  double stall_timeout_s = 30;
};

// The options the environment asks for: HF_ENDPOINT, HF_TOKEN (else
// HF_TOKEN_PATH, else $HF_HOME/token), HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE).
HubOptions hub_options_from_env();

// An HTTP status from the Hub that is the user's to act on (401/403 gated or
// private, 404 missing). Exit code: failure.
class HubError : public Error {
 public:
  HubError(const std::string& msg, long status) : Error(msg), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

struct RepoInfo {
  std::string commit;              // "sha"
  std::vector<std::string> files;  // "siblings[].rfilename"
};

struct FileMetadata {
  std::string commit;
  std::string etag;      // normalised: no W/ and no quotes
  int64_t size = -1;
  std::string location;  // where the bytes are (the resolve URL, or a CDN's)
};

struct HttpResponse;

// The parsing halves of HubClient::repo_info and file_metadata, apart from
// the network so that they can be tested and fuzzed on any answer.
// The JSON of GET /api/models/{repo}/revision/{rev}; Error naming `url` when
// it is not a Hub answer, InputError for an unsafe file path in it.
RepoInfo parse_repo_info(const std::string& body, const std::string& url);
// The metadata in the HEAD answer `r` to `url` (not a relative redirect,
// which file_metadata follows first); Error naming `what` when unusable.
FileMetadata file_metadata_from_response(const HttpResponse& r, const std::string& url, const std::string& what,
                                         const std::string& endpoint);

class HubClient {
 public:
  explicit HubClient(HubOptions options);
  const HubOptions& options() const { return opt_; }

  // max_retries < 0: the options' count (a caller with a cached copy to fall
  // back on asks for fewer, as huggingface_hub does not retry this call).
  RepoInfo repo_info(const std::string& repo_id, const std::string& revision, int max_retries = -1) const;
  FileMetadata file_metadata(const std::string& repo_id, const std::string& revision, const std::string& file) const;

  // Downloads `meta` into the cache's blobs/<etag> (nothing to do if it is
  // there), resuming blobs/<etag>.incomplete. on_bytes(n) reports each chunk
  // received (bytes kept from an earlier run are not reported). Returns the
  // blob path.
  std::string download_blob(const HubCache& cache, const std::string& file, const FileMetadata& meta,
                            const std::function<void(int64_t)>& on_bytes = {}) const;

  // Bytes of `meta` already on disk: the whole size for a finished blob, else
  // what a resumable .incomplete holds.
  static int64_t bytes_present(const HubCache& cache, const FileMetadata& meta);

  std::string resolve_url(const std::string& repo_id, const std::string& revision, const std::string& file) const;

 private:
  std::vector<std::pair<std::string, std::string>> auth_headers() const;

  HubOptions opt_;
};

}  // namespace qsenti::hub
