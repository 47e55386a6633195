#include "hub/modelscope_client.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "hub/digest.h"
#include "hub/hub_cache.h"
#include "hub/http.h"
#include "util/error.h"

namespace qsenti::hub {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

bool env_true(const char* name) {
  std::string v = trim(env(name));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string normalize_endpoint(std::string e) {
  e = trim(e);
  std::string low = e;
  std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return std::tolower(c); });
  if (low.rfind("http://", 0) != 0 && low.rfind("https://", 0) != 0) e = "https://" + e;  // a bare domain
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

// ModelScope's answers carry {"Code", "Message", "Success"}; the Message says what is wrong.
std::string message_of(const std::string& body) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("Message") && j["Message"].is_string()) return j["Message"].get<std::string>();
  } catch (...) {
  }
  return "";
}

void raise_for_status(const HttpResponse& r, const std::string& what) {
  if (r.status < 400) return;
  const std::string detail = message_of(r.body);
  const std::string tail = detail.empty() ? "" : " (" + detail + ")";
  if (r.status == 401 || r.status == 403)
    throw HubError(what + ": HTTP " + std::to_string(r.status) + tail +
                       ": the model is private, or the token is not valid; set MODELSCOPE_API_TOKEN to a "
                       "ModelScope access token with access",
                   r.status);
  if (r.status == 404)
    throw HubError(what + ": HTTP 404, no such model, revision or file on ModelScope" + tail, r.status);
  throw HubError(what + ": HTTP " + std::to_string(r.status) + tail, r.status);
}

std::string repo_path(const std::string& repo_id) {
  validate_repo_id(repo_id);
  return "/api/v1/models/" + repo_id;
}

}  // namespace

ModelScopeOptions modelscope_options_from_env() {
  ModelScopeOptions o;
  if (auto e = trim(env("MODELSCOPE_ENDPOINT")); !e.empty()) {
    o.endpoint = normalize_endpoint(e);
  } else if (auto d = trim(env("MODELSCOPE_DOMAIN")); !d.empty()) {
    o.endpoint = normalize_endpoint(d);
  }
  if (auto t = trim(env("MODELSCOPE_API_TOKEN")); !t.empty()) o.token = t;
  o.offline = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
  return o;
}

ModelScopeClient::ModelScopeClient(ModelScopeOptions options) : opt_(std::move(options)) {
  opt_.endpoint = normalize_endpoint(opt_.endpoint);
  split_url(opt_.endpoint);  // a bad endpoint fails here, not in the middle of a download
}

std::vector<std::pair<std::string, std::string>> ModelScopeClient::credentials() const {
  if (!opt_.token) return {};
  return {{"Authorization", "Bearer " + *opt_.token}, {"Cookie", "m_session_id=" + *opt_.token}};
}

std::string ModelScopeClient::file_url(const std::string& repo_id, const std::string& revision,
                                       const std::string& file) const {
  return opt_.endpoint + repo_path(repo_id) + "/repo?Revision=" + url_quote(revision, false) +
         "&FilePath=" + url_quote(file, false);
}

std::vector<ModelScopeFile> ModelScopeClient::list_files(const std::string& repo_id, const std::string& revision,
                                                         int max_retries) const {
  if (opt_.offline) throw Error("HF_HUB_OFFLINE is set: not asking " + opt_.endpoint + " about " + repo_id);
  HttpRequest req;
  req.url = opt_.endpoint + repo_path(repo_id) + "/repo/files?Revision=" + url_quote(revision, false) +
            "&Recursive=True";
  req.headers = credentials();
  TransferOptions t = opt_.transfer;
  if (max_retries >= 0) t.max_retries = max_retries;
  const HttpResponse r = perform_with_retries(t, req);
  const std::string what = repo_id + "@" + revision;
  raise_for_status(r, what);
  if (r.status != 200) throw Error(req.url + ": unexpected HTTP " + std::to_string(r.status));
  std::vector<ModelScopeFile> files;
  nlohmann::json list;
  try {
    const auto j = nlohmann::json::parse(r.body);
    if (j.contains("Success") && j["Success"].is_boolean() && !j["Success"].get<bool>())
      throw HubError(what + ": ModelScope refused: " + message_of(r.body), r.status);
    const auto& data = j.contains("Data") ? j["Data"] : j;
    list = data.is_array() ? data : data.at("Files");
    for (const auto& f : list) {
      if (f.value("Type", "blob") == "tree") continue;
      ModelScopeFile e;
      e.path = f.at("Path").get<std::string>();
      if (!f.contains("Size") || !f["Size"].is_number_integer())
        throw Error(what + ": the listing gives no Size for " + e.path + "; cannot check its download");
      e.size = f["Size"].get<int64_t>();
      if (f.contains("Sha256") && f["Sha256"].is_string()) e.sha256 = f["Sha256"].get<std::string>();
      std::transform(e.sha256.begin(), e.sha256.end(), e.sha256.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (!e.sha256.empty() && !is_hex(e.sha256, 64))
        throw Error(what + ": the listing's Sha256 of " + e.path + " is not a SHA-256: " + e.sha256);
      files.push_back(e);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(req.url + ": not a ModelScope file listing (" + e.what() + "); check MODELSCOPE_ENDPOINT");
  }
  // The server cuts a listing at 3000 entries without saying so (modelscope_hub's
  // REPO_FILES_TRUNCATION_LIMIT); a model that big is not one qsenti can load anyway.
  if (list.size() >= 3000)
    throw Error(what + ": ModelScope listed 3000 entries, its cut-off; the listing may be incomplete");
  for (const auto& f : files) validate_repo_path(f.path);
  return files;
}

ResumableFile ModelScopeClient::resumable(const ModelScopeCache& cache, const ModelScopeFile& file) {
  ResumableFile f;
  f.name = file.path;
  f.part_path = cache.incomplete_path(file.path);
  f.final_path = cache.file_path(file.path);
  f.lock_path = cache.lock_path(file.path);
  f.size = file.size;
  f.sha256 = file.sha256;
  f.source = "ModelScope";
  // Called for files found stale (or missing): one at the final path is replaced.
  f.replace = true;
  return f;
}

void ModelScopeClient::download_file(const ModelScopeCache& cache, const std::string& repo_id,
                                     const std::string& revision, const ModelScopeFile& file,
                                     const std::function<void(int64_t)>& on_bytes) const {
  if (opt_.offline) throw Error("HF_HUB_OFFLINE is set: cannot download " + file.path);
  ResumableFile f = resumable(cache, file);
  f.url = file_url(repo_id, revision, file.path);
  f.credentials = credentials();
  f.credentials_for = opt_.endpoint;
  f.raise_for_status = raise_for_status;
  download_resumable(opt_.transfer, f, on_bytes);
}

}  // namespace qsenti::hub
