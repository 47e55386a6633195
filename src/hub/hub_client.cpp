#include "hub/hub_client.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "hub/digest.h"
#include "hub/http.h"
#include "util/atomic_file.h"

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

bool retryable_status(long s) { return s == 408 || s == 429 || (s >= 500 && s <= 599); }

// The wait before retry `attempt` (0-based): backoff, doubled each time, at
// most 16x; a Retry-After of up to a minute is honoured.
void back_off(const HubOptions& o, int attempt, const HttpResponse* resp = nullptr) {
  double s = o.backoff_s * static_cast<double>(1 << std::min(attempt, 4));
  if (resp) {
    if (auto ra = resp->header("Retry-After")) {
      const double r = std::atof(ra->c_str());
      if (r > s && r <= 60) s = r;
    }
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
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

// One request, retried on transient failures (5xx, 408, 429, dropped or
// refused connections). Returns the last answer; throws TransportError when
// the tries are used up without one.
HttpResponse perform_with_retries(const HubOptions& o, HttpRequest req) {
  req.connect_timeout_s = o.connect_timeout_s;
  req.stall_timeout_s = o.stall_timeout_s;
  for (int attempt = 0;; ++attempt) {
    try {
      HttpResponse r = http_perform(req);
      if (!retryable_status(r.status) || attempt >= o.max_retries) return r;
      back_off(o, attempt, &r);
    } catch (const TransportError& e) {
      if (!e.retryable() || attempt >= o.max_retries) throw;
      back_off(o, attempt);
    }
  }
}

std::string normalize_etag(std::string e) {
  e = trim(e);
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

// An exclusive lock on a file, held while the object lives (flock: the same
// kind huggingface_hub's filelock takes on Linux).
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("cannot open the lock " + path + ": " + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw Error("cannot lock " + path + ": " + std::strerror(errno));
      }
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto s = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(s);
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
  const HttpResponse r = perform_with_retries(o, req);
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
    const HttpResponse r = perform_with_retries(opt_, req);
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

int64_t HubClient::bytes_present(const HubCache& cache, const FileMetadata& meta) {
  std::error_code ec;
  if (fs::exists(cache.blob_path(meta.etag), ec)) return meta.size;
  const int64_t part = file_size_or_zero(cache.incomplete_path(meta.etag));
  return part <= meta.size ? part : 0;
}

std::string HubClient::download_blob(const HubCache& cache, const std::string& file, const FileMetadata& meta,
                                     const std::function<void(int64_t)>& on_bytes) const {
  const std::string blob = cache.blob_path(meta.etag);
  std::error_code ec;
  if (fs::exists(blob, ec)) return blob;
  if (opt_.offline) throw Error("HF_HUB_OFFLINE is set: cannot download " + file);
  fs::create_directories(fs::path(blob).parent_path());
  FileLock lock(cache.lock_path(meta.etag));
  if (fs::exists(blob, ec)) return blob;  // another process finished it while we waited

  const std::string part = cache.incomplete_path(meta.etag);
  int64_t have = file_size_or_zero(part);
  if (have > meta.size) {  // not a prefix of this file: start over
    fs::resize_file(part, 0, ec);
    have = 0;
  }
  std::FILE* f = std::fopen(part.c_str(), "ab");
  if (!f) throw Error("cannot write " + part + ": " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, std::fclose);
  auto report = [&](int64_t n) {
    if (on_bytes) on_bytes(n);
  };
  auto restart = [&] {
    std::fflush(f);
    if (::ftruncate(::fileno(f), 0) != 0) throw Error("cannot truncate " + part + ": " + std::strerror(errno));
    have = 0;
  };
  auto remove_part = [&] {
    closer.reset();
    fs::remove(part, ec);
  };

  std::string url = meta.location;
  // The token goes to the Hub itself, never to a CDN that a redirect names.
  const bool to_hub = same_authority(url, opt_.endpoint);
  HttpRequest req;
  req.headers.emplace_back("Accept-Encoding", "identity");
  if (to_hub)
    for (auto& h : auth_headers()) req.headers.push_back(h);
  req.connect_timeout_s = opt_.connect_timeout_s;
  req.stall_timeout_s = opt_.stall_timeout_s;

  bool overflow = false, bad_range = false, write_failed = false;
  int failures = 0, hops = 0;
  try {
    while (have < meta.size) {
      HttpRequest r = req;
      r.url = url;
      if (have > 0) r.headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
      const int64_t at_start = have;
      r.on_body_start = [&](long status, const HeaderMap& h) {
        if (status == 200 && have > 0) {
          // The server ignored the Range: take the whole file again.
          std::fflush(f);
          if (::ftruncate(::fileno(f), 0) != 0) {
            write_failed = true;
            return false;
          }
          have = 0;
        } else if (status == 206) {
          auto it = h.find("Content-Range");
          const std::string expect = "bytes " + std::to_string(have) + "-";
          if (it == h.end() || it->second.rfind(expect, 0) != 0) {
            bad_range = true;
            return false;
          }
        }
        return true;
      };
      r.on_body = [&](const char* data, size_t n) {
        if (have + static_cast<int64_t>(n) > meta.size) {
          overflow = true;
          return false;
        }
        // No exception may cross libcurl's C frames: a flag, and stop.
        if (std::fwrite(data, 1, n, f) != n) {
          write_failed = true;
          return false;
        }
        have += static_cast<int64_t>(n);
        report(static_cast<int64_t>(n));
        return true;
      };
      HttpResponse resp;
      try {
        resp = http_perform(r);
      } catch (const TransportError& e) {
        std::fflush(f);
        if (write_failed) throw Error("cannot write " + part + " (disk full?)");
        if (overflow) {
          remove_part();
          throw Error(file + ": the server sent more than the " + std::to_string(meta.size) +
                      " bytes the Hub announced; removed the partial download");
        }
        if (bad_range) {
          restart();
          if (++failures > opt_.max_retries) throw Error(file + ": the server answers Range requests wrongly");
          continue;
        }
        if (!e.retryable()) throw Error(file + ": " + e.what());
        // Bytes arrived: the connection is worth resuming as often as it keeps moving.
        failures = have > at_start ? 0 : failures + 1;
        if (failures > opt_.max_retries)
          throw Error(file + ": download failed after " + std::to_string(opt_.max_retries + 1) + " tries: " + e.what() +
                      " (" + std::to_string(have) + " of " + std::to_string(meta.size) +
                      " bytes kept; run again to resume)");
        back_off(opt_, failures);
        continue;
      }
      std::fflush(f);
      if (resp.status >= 300 && resp.status < 400) {
        auto loc = resp.header("Location");
        if (!loc || ++hops > 10) throw Error(file + ": bad or too many redirects from " + url);
        const std::string next = resolve_location(url, *loc);
        if (!same_authority(next, url)) {  // a hop to another host loses the token
          req.headers.erase(std::remove_if(req.headers.begin(), req.headers.end(),
                                           [](const auto& h) { return h.first == "Authorization"; }),
                            req.headers.end());
        }
        url = next;
        continue;
      }
      if (resp.status == 416 && have > 0) {  // our prefix is longer than the server's file: start over
        restart();
        if (++failures > opt_.max_retries) throw Error(file + ": the server refuses every Range request");
        continue;
      }
      if (retryable_status(resp.status)) {
        if (++failures > opt_.max_retries)
          throw Error(file + ": HTTP " + std::to_string(resp.status) + " after " + std::to_string(failures) + " tries");
        back_off(opt_, failures - 1, &resp);
        continue;
      }
      raise_for_status(resp, file);
      if (resp.status < 200 || resp.status >= 300)
        throw Error(file + ": unexpected HTTP " + std::to_string(resp.status) + " from " + url);
      if (have < meta.size) {  // a clean end of the body, short of the announced size
        const int64_t got = have;
        remove_part();
        throw Error(file + ": the server sent " + std::to_string(got) + " bytes but the Hub announced " +
                    std::to_string(meta.size) + "; removed the partial download");
      }
    }
  } catch (...) {
    // A failure before any byte arrived leaves no empty file behind; bytes
    // that did arrive stay in .incomplete for the next run to resume.
    if (closer) std::fflush(f);
    if (file_size_or_zero(part) == 0) remove_part();
    throw;
  }
  if (std::fflush(f) != 0) throw Error("cannot write " + part + " (disk full?)");
  closer.reset();

  const int64_t got = file_size_or_zero(part);
  if (got != meta.size) {
    remove_part();
    throw Error(file + ": downloaded " + std::to_string(got) + " bytes, expected " + std::to_string(meta.size));
  }
  // LFS files: the etag is the SHA-256 oid. Plain git files: the git blob id.
  std::string actual, kind;
  if (is_hex(meta.etag, 64)) {
    kind = "SHA-256";
    actual = sha256_file(part);
  } else if (is_hex(meta.etag, 40)) {
    kind = "git SHA-1";
    actual = git_blob_sha1_file(part);
  }
  std::string expected = meta.etag;
  std::transform(expected.begin(), expected.end(), expected.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!kind.empty() && actual != expected) {
    remove_part();
    throw Error(file + ": " + kind + " mismatch: the Hub says " + expected + ", the download is " + actual +
                "; removed it (run again to download it anew)");
  }
  commit_temp_file(part, blob);
  return blob;
}

}  // namespace qsenti::hub
