#include "hub/hub_client.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hub/digest.h"
#include "hub/http.h"
#include "hub/transfer.h"

namespace fs = std::filesystem;

namespace qsenti::hub {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool env_true(const char* name) {
  std::string v = env(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

TransferOptions transfer_options(const HubOptions& o) {
  TransferOptions t;
  t.max_retries = o.max_retries;
  t.backoff_s = o.backoff_s;
  t.connect_timeout_s = o.connect_timeout_s;
  t.stall_timeout_s = o.stall_timeout_s;
  return t;
}

// What to tell the user for a status the Hub refused with.
void raise_for_status(const HttpResponse& r, const std::string& what) {
  if (r.status < 400) return;
  const std::string code = r.header("X-Error-Code").value_or("");
  std::string detail = r.header("X-Error-Message").value_or("");
  if (detail.empty()) {
    try {
      auto j = nlohmann::json::parse(r.body);
      if (j.is_object() && j.contains("error") && j["error"].is_string()) detail = j["error"].get<std::string>();
    } catch (...) {
    }
  }
  const std::string tail = detail.empty() ? "" : " (" + detail + ")";
  if (r.status == 401 || r.status == 403) {
    if (code == "GatedRepo")
      throw HubError(what + ": HTTP " + std::to_string(r.status) + ", the repo is gated" + tail +
                         ": accept its conditions on its Hub page, then set HF_TOKEN to a token of that account",
                     r.status);
    throw HubError(what + ": HTTP " + std::to_string(r.status) + tail +
                       ": the repo is private or gated, or missing, or the token is not valid; set HF_TOKEN "
                       "(or the token file $HF_HOME/token) to a token with access",
                   r.status);
  }
  if (r.status == 404) {
    std::string kind = "not found";
    if (code == "RepoNotFound") kind = "no such repo";
    if (code == "RevisionNotFound") kind = "no such revision";
    if (code == "EntryNotFound") kind = "no such file in the repo";
    throw HubError(what + ": HTTP 404, " + kind + tail, r.status);
  }
  throw HubError(what + ": HTTP " + std::to_string(r.status) + tail, r.status);
}

std::string normalize_etag(std::string e) {
  e = trim(e);
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

}  // namespace

HubOptions hub_options_from_env() {
  HubOptions o;
  if (auto e = trim(env("HF_ENDPOINT")); !e.empty()) {
    while (!e.empty() && e.back() == '/') e.pop_back();
    o.endpoint = e;
  }
  if (auto t = trim(env("HF_TOKEN")); !t.empty()) {
    o.token = t;
  } else {
    std::string path = env("HF_TOKEN_PATH");
    if (path.empty()) path = hf_home_dir() + "/token";
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !trim(line).empty()) o.token = trim(line);
  }
  o.offline = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
  return o;
}

HubClient::HubClient(HubOptions options) : opt_(std::move(options)) {
  while (!opt_.endpoint.empty() && opt_.endpoint.back() == '/') opt_.endpoint.pop_back();
  split_url(opt_.endpoint);  // a bad --endpoint fails here, not in the middle of a download
}

std::vector<std::pair<std::string, std::string>> HubClient::auth_headers() const {
  if (!opt_.token) return {};
  return {{"Authorization", "Bearer " + *opt_.token}};
}

std::string HubClient::resolve_url(const std::string& repo_id, const std::string& revision,
                                   const std::string& file) const {
  return opt_.endpoint + "/" + repo_id + "/resolve/" + url_quote(revision, false) + "/" + url_quote(file, true);
}

RepoInfo HubClient::repo_info(const std::string& repo_id, const std::string& revision, int max_retries) const {
  if (opt_.offline) throw Error("HF_HUB_OFFLINE is set: not asking " + opt_.endpoint + " about " + repo_id);
  HttpRequest req;
  req.url = opt_.endpoint + "/api/models/" + repo_id + "/revision/" + url_quote(revision, false);
  req.headers = auth_headers();
  HubOptions o = opt_;
  if (max_retries >= 0) o.max_retries = max_retries;
  const HttpResponse r = perform_with_retries(transfer_options(o), req);
  raise_for_status(r, repo_id + "@" + revision);
  if (r.status != 200) throw Error(req.url + ": unexpected HTTP " + std::to_string(r.status));
  return parse_repo_info(r.body, req.url);
}

RepoInfo parse_repo_info(const std::string& body, const std::string& url) {
  RepoInfo info;
  try {
    const auto j = nlohmann::json::parse(body);
    info.commit = j.at("sha").get<std::string>();
    for (const auto& s : j.value("siblings", nlohmann::json::array()))
      info.files.push_back(s.at("rfilename").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(url + ": not a Hub repo answer (" + e.what() + "); check HF_ENDPOINT");
  }
  if (!is_commit_hash(info.commit)) throw Error(url + ": the answer's sha '" + info.commit + "' is not a commit");
  for (const auto& f : info.files) validate_repo_path(f);
  return info;
}

FileMetadata HubClient::file_metadata(const std::string& repo_id, const std::string& revision,
                                      const std::string& file) const {
  if (opt_.offline) throw Error("HF_HUB_OFFLINE is set: not asking " + opt_.endpoint + " about " + file);
  std::string url = resolve_url(repo_id, revision, file);
  const std::string what = repo_id + "/" + file;
  HttpRequest req;
  req.method = "HEAD";
  req.headers = auth_headers();
  // No compression: Content-Length must be the file's own size.
  req.headers.emplace_back("Accept-Encoding", "identity");
  for (int hops = 0;; ++hops) {
    req.url = url;
    const HttpResponse r = perform_with_retries(transfer_options(opt_), req);
    raise_for_status(r, what);
    const auto loc = r.header("Location");
    const bool redirect = r.status >= 300 && r.status < 400 && loc;
    // A relative redirect is the Hub's own (a renamed repo): follow it. An
    // absolute one is the CDN: its URL is what to download.
    if (redirect && loc->find("://") == std::string::npos && loc->rfind("//", 0) != 0) {
      if (hops >= 10) throw Error(what + ": too many redirects");
      url = resolve_location(url, *loc);
      continue;
    }
    return file_metadata_from_response(r, url, what, opt_.endpoint);
  }
}

FileMetadata file_metadata_from_response(const HttpResponse& r, const std::string& url, const std::string& what,
                                         const std::string& endpoint) {
  const auto loc = r.header("Location");
  const bool redirect = r.status >= 300 && r.status < 400 && loc;
  FileMetadata m;
  m.commit = r.header("X-Repo-Commit").value_or("");
  m.etag = normalize_etag(r.header("X-Linked-Etag").value_or(r.header("ETag").value_or("")));
  std::string size = r.header("X-Linked-Size").value_or("");
  if (size.empty() && !redirect) size = r.header("Content-Length").value_or("");
  m.location = redirect ? resolve_location(url, *loc) : url;
  if (m.commit.empty())
    throw Error(what + ": the answer has no X-Repo-Commit: " + endpoint +
                " does not look like a Hub (check HF_ENDPOINT, a proxy or a firewall)");
  if (m.etag.empty()) throw Error(what + ": the answer has no ETag; cannot name the file in the cache");
  if (size.empty()) throw Error(what + ": the answer gives no size (X-Linked-Size or Content-Length)");
  m.size = std::strtoll(size.c_str(), nullptr, 10);
  // The etag names a file in blobs/: it must not be a path.
  if (m.etag.find('/') != std::string::npos || m.etag == "." || m.etag == "..")
    throw Error(what + ": unusable ETag '" + m.etag + "'");
  return m;
}

namespace {

// A blob of the cache as a resumable file: LFS files are named by their
// SHA-256 oid, plain git files by their git blob SHA-1.
ResumableFile blob_file(const HubCache& cache, const std::string& file, const FileMetadata& meta) {
  ResumableFile f;
  f.name = file;
  f.url = meta.location;
  f.part_path = cache.incomplete_path(meta.etag);
  f.final_path = cache.blob_path(meta.etag);
  f.lock_path = cache.lock_path(meta.etag);
  f.size = meta.size;
  if (is_hex(meta.etag, 64)) f.sha256 = meta.etag;
  else if (is_hex(meta.etag, 40)) f.git_sha1 = meta.etag;
  f.source = "the Hub";
  return f;
}

}  // namespace

int64_t HubClient::bytes_present(const HubCache& cache, const FileMetadata& meta) {
  return hub::bytes_present(blob_file(cache, "", meta));
}

std::string HubClient::download_blob(const HubCache& cache, const std::string& file, const FileMetadata& meta,
                                     const std::function<void(int64_t)>& on_bytes) const {
  const std::string blob = cache.blob_path(meta.etag);
  std::error_code ec;
  if (fs::exists(blob, ec)) return blob;
  if (opt_.offline) throw Error("HF_HUB_OFFLINE is set: cannot download " + file);
  ResumableFile f = blob_file(cache, file, meta);
  // The token goes to the Hub itself, never to a CDN that a redirect names.
  f.credentials = auth_headers();
  f.credentials_for = opt_.endpoint;
  f.raise_for_status = raise_for_status;
  download_resumable(transfer_options(opt_), f, on_bytes);
  return blob;
}

}  // namespace qsenti::hub
