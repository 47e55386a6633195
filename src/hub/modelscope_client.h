#pragma once
// ModelScope's download protocol, as its Python SDK speaks it (modelscope 1.40
// on modelscope_hub 0.5: _legacy_api.py list_repo_files and get_download_url;
// the same endpoints as modelscope 1.37's api.py get_model_files and
// file_download.py get_file_download_url):
//  - the file list: GET {endpoint}/api/v1/models/{owner}/{name}/repo/files
//    ?Revision={rev}&Recursive=True, answered {"Code", "Success", "Message",
//    "Data": {"Files": [{"Path", "Type" ("blob"/"tree"), "Size", "Sha256", ...}]}};
//  - a file's bytes: GET {endpoint}/api/v1/models/{owner}/{name}/repo
//    ?Revision={rev}&FilePath={path}, redirects followed (credentials only to
//    the endpoint's own host), into its .incomplete file, resumed with Range,
//    its size and SHA-256 checked against the listing before the rename.
// A token (MODELSCOPE_API_TOKEN) goes as "Authorization: Bearer" and as the
// m_session_id cookie, as the SDK sends both. 5xx, 408, 429 and dropped
// connections are retried with exponential backoff.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/hub_client.h"
#include "hub/modelscope_cache.h"
#include "hub/transfer.h"

namespace qsenti::hub {

struct ModelScopeOptions {
  std::string endpoint = "https://modelscope.cn";  // MODELSCOPE_ENDPOINT, else MODELSCOPE_DOMAIN
  std::optional<std::string> token;                // MODELSCOPE_API_TOKEN
  // The SDK has no offline switch of its own: qsenti's one, HF_HUB_OFFLINE
  // (or TRANSFORMERS_OFFLINE), keeps ModelScope off the network too.
  bool offline = false;
  TransferOptions transfer;
};

// MODELSCOPE_ENDPOINT, else MODELSCOPE_DOMAIN (https:// when it names no
// scheme; the SDK's older variable), MODELSCOPE_API_TOKEN, HF_HUB_OFFLINE.
ModelScopeOptions modelscope_options_from_env();

class ModelScopeClient {
 public:
  explicit ModelScopeClient(ModelScopeOptions options);
  const ModelScopeOptions& options() const { return opt_; }

  // Every file (not folder) of repo@revision. max_retries < 0: the options' count.
  std::vector<ModelScopeFile> list_files(const std::string& repo_id, const std::string& revision,
                                         int max_retries = -1) const;
  std::string file_url(const std::string& repo_id, const std::string& revision, const std::string& file) const;

  // Downloads `file` into the cache (resuming its .incomplete), replacing an
  // older copy atomically; on_bytes(n) reports each chunk received.
  void download_file(const ModelScopeCache& cache, const std::string& repo_id, const std::string& revision,
                     const ModelScopeFile& file, const std::function<void(int64_t)>& on_bytes = {}) const;

  static ResumableFile resumable(const ModelScopeCache& cache, const ModelScopeFile& file);

 private:
  std::vector<std::pair<std::string, std::string>> credentials() const;
  ModelScopeOptions opt_;
};

}  // namespace qsenti::hub
