// qsenti download against a mock Hugging Face Hub on 127.0.0.1 (cpp-httplib):
// the Hub's real headers (X-Repo-Commit, X-Linked-Etag, X-Linked-Size), LFS
// files redirected to a second server standing for the CDN, a gated repo, 404s,
// 5xx, a dropped connection, wrong sizes and hashes, a killed process. Each
// case ends with a complete verified file or a clear error, and nothing
// half-written in the snapshot. (Named test_serve_* for the httplib flags.)
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "hub/hub_cache.h"
#include "hub/hub_client.h"
#include "cli/model_source.h"
#include "cli/size_prompt.h"
#include "hub/snapshot_download.h"
#include "hub_test_util.h"
#include "test_util.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

using test::error_of;
using test::EnvGuard;
using test::git_sha1;
using test::hex_digest;
using test::pseudo_random_bytes;
using test::read_all;

struct MockFile {
  std::string content;
  bool lfs = false;
  std::string etag() const { return lfs ? hex_digest(EVP_sha256(), content) : git_sha1(content); }
};

// The Hub (API and resolve) on one port, its CDN on another.
class MockHub {
 public:
  MockHub() {
    files_["config.json"] = {R"({"model_type": "qwen3"})", false};
    files_["tokenizer_config.json"] = {R"({"tokenizer_class": "Qwen2Tokenizer"})", false};
    files_["model.safetensors"] = {pseudo_random_bytes(300000, 1), true};
    files_["sub/dir/extra.bin"] = {pseudo_random_bytes(5000, 2), true};
    setup_hub();
    setup_cdn();
    hub_port_ = hub_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    hub_thread_ = std::thread([this] { hub_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
    // bind_to_any_port already listens: connections wait for the accept loop.
  }
  ~MockHub() {
    // httplib's stop() only closes a socket whose accept loop has started:
    // a test done before that would leave listen() waiting for ever.
    for (int i = 0; i < 5000 && !(hub_.is_running() && cdn_.is_running()); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    hub_.stop();
    cdn_.stop();
    hub_thread_.join();
    cdn_thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }
  const MockFile& file(const std::string& p) const { return files_.at(p); }
  size_t file_count() const { return files_.size(); }

  // Faults, set by the tests.
  std::atomic<int> head_errors{0};        // the next HEADs answer 503
  std::atomic<int> cdn_errors{0};         // the next CDN GETs answer 500
  std::atomic<int64_t> drop_after{-1};    // the next CDN GET drops the connection after this many bytes
  std::atomic<int> short_body{0};         // CDN: serve one byte less, cleanly
  std::atomic<int> long_body{0};          // CDN: serve one byte more
  std::atomic<int> corrupt{0};            // CDN: flip a byte
  std::atomic<int> throttle_us{0};        // CDN: a pause after each 16 kB
  // What was served.
  std::atomic<int64_t> cdn_bytes{0};
  std::atomic<int> cdn_gets{0};
  std::atomic<int> heads{0};
  std::vector<std::string> ranges() {
    std::lock_guard<std::mutex> lk(mu_);
    return ranges_;
  }
  bool cdn_saw_authorization() const { return cdn_auth_; }
  bool hub_saw_token() const { return hub_token_; }

 private:
  static constexpr const char* kToken = "Bearer hf_good";

  // 401 unless a gated repo's request carries the token; 404 for unknown repos.
  bool refuse(const std::string& repo, const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") == kToken) hub_token_ = true;
    if (repo == "org/gated" && req.get_header_value("Authorization") != kToken) {
      res.status = 401;
      res.set_header("X-Error-Code", "GatedRepo");
      res.set_header("X-Error-Message", "Access to model org/gated is restricted.");
      return true;
    }
    if (repo != "org/model" && repo != "org/gated") {
      res.status = repo == "org/renamed" ? 307 : 404;
      if (res.status == 404) {
        res.set_header("X-Error-Code", "RepoNotFound");
        res.set_content(R"({"error":"Repository not found"})", "application/json");
      }
      return true;
    }
    return false;
  }

  void setup_hub() {
    hub_.Get(R"(/api/models/([^/]+/[^/]+)/revision/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string repo = req.matches[1];
      if (refuse(repo, req, res)) return;
      if (req.matches[2] != "main" && req.matches[2] != kCommit) {
        res.status = 404;
        res.set_header("X-Error-Code", "RevisionNotFound");
        return;
      }
      nlohmann::json j{{"id", repo}, {"sha", kCommit}, {"siblings", nlohmann::json::array()}};
      for (const auto& [p, f] : files_) j["siblings"].push_back({{"rfilename", p}});
      res.set_content(j.dump(), "application/json");
    });
    // HEAD is served by the GET handler (httplib), without the body.
    hub_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string repo = req.matches[1], rev = req.matches[2], path = req.matches[3];
      if (req.method == "HEAD") ++heads;
      if (req.method == "HEAD" && head_errors > 0) {
        --head_errors;
        res.status = 503;
        return;
      }
      if (repo == "org/renamed") {  // a renamed repo: a relative redirect to its new name
        res.status = 307;
        res.set_header("Location", "/org/model/resolve/" + rev + "/" + path);
        return;
      }
      if (refuse(repo, req, res)) return;
      res.set_header("X-Repo-Commit", kCommit);
      auto it = files_.find(path);
      if (it == files_.end()) {
        res.status = 404;
        res.set_header("X-Error-Code", "EntryNotFound");
        return;
      }
      const MockFile& f = it->second;
      if (f.lfs) {  // as the Hub: a 302 to the CDN with the LFS oid and size in X-Linked-*
        res.status = 302;
        res.set_header("ETag", "\"" + git_sha1("pointer " + path) + "\"");
        res.set_header("X-Linked-Etag", "\"" + f.etag() + "\"");
        res.set_header("X-Linked-Size", std::to_string(f.content.size()));
        res.set_header("Location",
                       "http://127.0.0.1:" + std::to_string(cdn_port_) + "/blobs/" + f.etag() + "?X-Amz-Signature=x");
        return;
      }
      res.set_header("ETag", "\"" + f.etag() + "\"");
      res.set_content(f.content, "application/octet-stream");
    });
  }

  void setup_cdn() {
    cdn_.Get(R"(/blobs/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
      ++cdn_gets;
      if (req.has_header("Authorization")) cdn_auth_ = true;
      {
        std::lock_guard<std::mutex> lk(mu_);
        ranges_.push_back(req.get_header_value("Range"));
      }
      if (cdn_errors > 0) {
        --cdn_errors;
        res.status = 500;
        return;
      }
      const MockFile* f = nullptr;
      for (const auto& [p, m] : files_)
        if (m.lfs && m.etag() == req.matches[1]) f = &m;
      if (!f) {
        res.status = 404;
        return;
      }
      auto body = std::make_shared<std::string>(f->content);
      if (short_body > 0 && short_body--) body->pop_back();
      if (long_body > 0 && long_body--) body->push_back('x');
      if (corrupt > 0 && corrupt--) (*body)[body->size() / 2] ^= 0x55;
      const int64_t drop = drop_after.exchange(-1);
      // httplib answers a Range with 206 and calls the provider from its offset.
      res.set_content_provider(body->size(), "application/octet-stream",
                               [this, body, drop](size_t offset, size_t length, httplib::DataSink& sink) {
                                 size_t sent = 0;
                                 while (sent < length) {
                                   size_t n = std::min<size_t>(16384, length - sent);
                                   if (drop >= 0 && static_cast<int64_t>(sent + n) > drop) n = drop - sent;
                                   if (n == 0) return false;  // drop the connection mid-file
                                   if (!sink.write(body->data() + offset + sent, n)) return false;
                                   sent += n;
                                   cdn_bytes += static_cast<int64_t>(n);
                                   if (throttle_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(throttle_us));
                                 }
                                 return true;
                               });
    });
  }

  std::map<std::string, MockFile> files_;
  httplib::Server hub_, cdn_;
  int hub_port_ = 0, cdn_port_ = 0;
  std::thread hub_thread_, cdn_thread_;
  std::mutex mu_;
  std::vector<std::string> ranges_;
  std::atomic<bool> cdn_auth_{false}, hub_token_{false};
};

hub::HubOptions fast_options(const MockHub& m) {
  hub::HubOptions o;
  o.endpoint = m.endpoint();
  o.backoff_s = 0.01;
  o.max_retries = 3;
  return o;
}

hub::SnapshotRequest request_for(const TempDir& tmp, const std::string& repo = "org/model") {
  hub::SnapshotRequest r;
  r.repo_id = repo;
  r.cache_dir = tmp / "hub";
  r.progress = false;
  return r;
}

std::string storage(const TempDir& tmp, const std::string& name = "models--org--model") { return tmp / ("hub/" + name); }

// Nothing of a failed file in the snapshot, no .incomplete left, no ref.
void expect_nothing_half_written(const TempDir& tmp, const std::string& file, bool keep_incomplete = false) {
  const std::string st = storage(tmp);
  EXPECT_FALSE(fs::exists(fs::path(st) / "snapshots" / kCommit / file) ||
               fs::is_symlink(fs::path(st) / "snapshots" / kCommit / file));
  EXPECT_FALSE(fs::exists(st + "/refs/main"));
  std::error_code ec;
  if (!keep_incomplete) {
    for (auto& e : fs::directory_iterator(st + "/blobs", ec)) {
      EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
    }
  }
}

// ---- the cache layout ------------------------------------------------------

TEST(HubCache, LayoutRelativeLinksAndAtomicRefs) {
  TempDir tmp;
  hub::HubCache c(tmp / "hub", "Qwen/Qwen3-0.6B");
  EXPECT_EQ(c.storage_dir(), tmp / "hub/models--Qwen--Qwen3-0.6B");
  fs::create_directories(c.storage_dir() + "/blobs");
  test::write_file(c.blob_path("e1"), "x");
  c.link_blob(kCommit, "a/b/f.txt", "e1");
  c.link_blob(kCommit, "top.json", "e1");
  EXPECT_EQ(fs::read_symlink(c.pointer_path(kCommit, "a/b/f.txt")).string(), "../../../../blobs/e1");
  EXPECT_EQ(fs::read_symlink(c.pointer_path(kCommit, "top.json")).string(), "../../blobs/e1");
  EXPECT_EQ(read_all(c.pointer_path(kCommit, "a/b/f.txt")), "x");
  EXPECT_FALSE(c.find_snapshot("main"));
  c.write_ref("main", kCommit);
  EXPECT_EQ(read_all(c.storage_dir() + "/refs/main"), kCommit);  // no newline, as huggingface_hub writes it
  EXPECT_EQ(c.find_snapshot("main"), c.snapshot_dir(kCommit));
  EXPECT_EQ(c.find_snapshot(kCommit), c.snapshot_dir(kCommit));
  EXPECT_FALSE(c.find_snapshot("main", {"missing.bin"}));
  EXPECT_THROW(hub::validate_repo_id("no-slash"), Error);
  EXPECT_THROW(hub::validate_repo_id("a/b/c"), Error);
  EXPECT_THROW(hub::validate_repo_path("../etc/passwd"), Error);
  EXPECT_TRUE(hub::matches_any("sub/dir/x.bin", {"*.bin"}));  // '*' crosses '/', as fnmatch in huggingface_hub
  EXPECT_TRUE(hub::matches_any("sub/dir/x.bin", {"sub/"}));
  EXPECT_FALSE(hub::matches_any("config.json", {"*.safetensors"}));
}

TEST(HubCache, EnvironmentPicksCacheEndpointTokenAndOffline) {
  TempDir tmp;
  EnvGuard env;
  for (const char* k : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE",
                        "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"})
    env.set(k, nullptr);
  env.set("HF_HOME", (tmp / "home").c_str());
  EXPECT_EQ(hub::default_cache_dir(), tmp / "home/hub");
  env.set("HF_HUB_CACHE", (tmp / "c").c_str());
  EXPECT_EQ(hub::default_cache_dir(), tmp / "c");
  fs::create_directories(tmp / "home");
  test::write_file(tmp / "home/token", "hf_fromfile\n");
  env.set("HF_ENDPOINT", "https://hf-mirror.example/");
  env.set("HF_HUB_OFFLINE", "1");
  hub::HubOptions o = hub::hub_options_from_env();
  EXPECT_EQ(o.endpoint, "https://hf-mirror.example");
  EXPECT_EQ(o.token.value_or(""), "hf_fromfile");
  EXPECT_TRUE(o.offline);
  env.set("HF_TOKEN", "hf_env");
  env.set("HF_HUB_OFFLINE", "0");
  o = hub::hub_options_from_env();
  EXPECT_EQ(o.token.value_or(""), "hf_env");
  EXPECT_FALSE(o.offline);
  // Revisions are quoted whole: a branch with a slash stays one path segment.
  EXPECT_EQ(hub::HubClient(o).resolve_url("a/b", "refs/pr/1", "d/f t.json"),
            "https://hf-mirror.example/a/b/resolve/refs%2Fpr%2F1/d/f%20t.json");
}

// ---- downloads -------------------------------------------------------------

TEST(HubDownload, WholeRepoThroughTheCdnVerifiedAndLinked) {
  MockHub m;
  TempDir tmp;
  hub::HubOptions o = fast_options(m);
  o.token = "hf_good";
  const hub::HubClient client(o);
  const auto r = hub::snapshot_download(client, request_for(tmp));
  EXPECT_EQ(r.commit, kCommit);
  EXPECT_EQ(r.path, storage(tmp) + "/snapshots/" + kCommit);
  EXPECT_EQ(r.files, 4);
  EXPECT_EQ(r.downloaded_files, 4);
  for (const std::string p : {"config.json", "tokenizer_config.json", "model.safetensors", "sub/dir/extra.bin"}) {
    const std::string link = r.path + "/" + p;
    ASSERT_TRUE(fs::is_symlink(link)) << p;
    EXPECT_TRUE(fs::read_symlink(link).is_relative()) << p;
    EXPECT_EQ(read_all(link), m.file(p).content) << p;
    EXPECT_EQ(fs::canonical(link), fs::canonical(storage(tmp) + "/blobs/" + m.file(p).etag())) << p;
  }
  EXPECT_EQ(read_all(storage(tmp) + "/refs/main"), kCommit);
  EXPECT_EQ(m.cdn_bytes, 305000);
  EXPECT_TRUE(m.hub_saw_token());
  EXPECT_FALSE(m.cdn_saw_authorization()) << "the token must not follow a redirect to another host";
  // Again: every file is linked already, so not a byte and not a HEAD.
  const int heads = m.heads;
  const auto again = hub::snapshot_download(client, request_for(tmp));
  EXPECT_EQ(again.downloaded_files, 0);
  EXPECT_EQ(m.cdn_bytes, 305000);
  EXPECT_EQ(m.heads, heads);
}

TEST(HubDownload, IncludeGlobsAndLocalDir) {
  MockHub m;
  TempDir tmp;
  auto rq = request_for(tmp);
  rq.include = {"*.json"};
  rq.local_dir = tmp / "local";
  const auto r = hub::snapshot_download(hub::HubClient(fast_options(m)), rq);
  EXPECT_EQ(r.files, 2);
  EXPECT_EQ(r.path, tmp / "local");
  EXPECT_EQ(read_all(tmp / "local/config.json"), m.file("config.json").content);
  EXPECT_FALSE(fs::exists(tmp / "local/model.safetensors"));
  EXPECT_EQ(m.cdn_bytes, 0);
  rq.include = {"*.nothing"};
  EXPECT_NE(error_of([&] { hub::snapshot_download(hub::HubClient(fast_options(m)), rq); }).find("no file matching"),
            std::string::npos);
}

TEST(HubDownload, GatedRepoAsksForAToken) {
  MockHub m;
  TempDir tmp;
  const std::string e =
      error_of([&] { hub::snapshot_download(hub::HubClient(fast_options(m)), request_for(tmp, "org/gated")); });
  EXPECT_NE(e.find("401"), std::string::npos) << e;
  EXPECT_NE(e.find("gated"), std::string::npos) << e;
  EXPECT_NE(e.find("HF_TOKEN"), std::string::npos) << e;
  hub::HubOptions o = fast_options(m);
  o.token = "hf_good";
  const auto r = hub::snapshot_download(hub::HubClient(o), request_for(tmp, "org/gated"));
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors").content);
  EXPECT_FALSE(m.cdn_saw_authorization());
}

TEST(HubDownload, MissingRepoRevisionAndFileSay404) {
  MockHub m;
  TempDir tmp;
  const hub::HubClient client(fast_options(m));
  std::string e = error_of([&] { hub::snapshot_download(client, request_for(tmp, "org/nothing")); });
  EXPECT_NE(e.find("404"), std::string::npos) << e;
  EXPECT_NE(e.find("no such repo"), std::string::npos) << e;
  auto rq = request_for(tmp);
  rq.revision = "v9";
  e = error_of([&] { hub::snapshot_download(client, rq); });
  EXPECT_NE(e.find("no such revision"), std::string::npos) << e;
  e = error_of([&] { client.file_metadata("org/model", "main", "nope.bin"); });
  EXPECT_NE(e.find("no such file"), std::string::npos) << e;
  try {
    client.file_metadata("org/model", "main", "nope.bin");
  } catch (const hub::HubError& he) {
    EXPECT_EQ(he.status(), 404);
  }
}

TEST(HubDownload, RenamedRepoFollowsTheRelativeRedirectOnly) {
  MockHub m;
  const hub::HubClient client(fast_options(m));
  const auto meta = client.file_metadata("org/renamed", "main", "model.safetensors");
  EXPECT_EQ(meta.commit, kCommit);
  EXPECT_EQ(meta.etag, m.file("model.safetensors").etag());  // X-Linked-Etag, not the pointer's ETag
  EXPECT_EQ(meta.size, 300000);                              // X-Linked-Size
  EXPECT_NE(meta.location.find("/blobs/"), std::string::npos);  // the CDN redirect is not followed by HEAD
  EXPECT_EQ(m.cdn_gets, 0);
  const auto plain = client.file_metadata("org/model", "main", "config.json");
  EXPECT_EQ(plain.etag, m.file("config.json").etag());
  EXPECT_EQ(plain.size, static_cast<int64_t>(m.file("config.json").content.size()));  // Content-Length
}

TEST(HubDownload, ServerErrorsAreRetried) {
  MockHub m;
  TempDir tmp;
  m.head_errors = 2;
  m.cdn_errors = 1;
  const auto r = hub::snapshot_download(hub::HubClient(fast_options(m)), request_for(tmp));
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors").content);
  EXPECT_EQ(m.head_errors, 0);
  EXPECT_EQ(m.cdn_errors, 0);
  // More failures than retries: a clear error, and nothing half-written.
  TempDir tmp2;
  m.cdn_errors = 100;
  auto rq = request_for(tmp2);
  rq.include = {"model.safetensors"};
  const std::string e = error_of([&] { hub::snapshot_download(hub::HubClient(fast_options(m)), rq); });
  EXPECT_NE(e.find("HTTP 500"), std::string::npos) << e;
  expect_nothing_half_written(tmp2, "model.safetensors");
}

TEST(HubDownload, DroppedConnectionResumesWithRangeFetchingOnlyTheRest) {
  MockHub m;
  TempDir tmp;
  m.drop_after = 100000;
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const auto r = hub::snapshot_download(hub::HubClient(fast_options(m)), rq);
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors").content);
  const auto ranges = m.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=100000-");
  EXPECT_EQ(m.cdn_bytes, 300000) << "the resumed request fetched only the missing bytes";
}

TEST(HubDownload, WrongSizeIsRefusedAndNothingIsLeft) {
  MockHub m;
  TempDir tmp;
  m.short_body = 1;
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const std::string e = error_of([&] { hub::snapshot_download(hub::HubClient(fast_options(m)), rq); });
  EXPECT_NE(e.find("announced 300000"), std::string::npos) << e;
  expect_nothing_half_written(tmp, "model.safetensors");
  // The next try gets the right bytes.
  const auto r = hub::snapshot_download(hub::HubClient(fast_options(m)), rq);
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors").content);
}

TEST(HubDownload, MoreBytesThanAnnouncedAreRefusedAndNothingIsLeft) {
  MockHub m;
  TempDir tmp;
  m.long_body = 1;
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const std::string e = error_of([&] { hub::snapshot_download(hub::HubClient(fast_options(m)), rq); });
  EXPECT_NE(e.find("more than the 300000 bytes"), std::string::npos) << e;
  expect_nothing_half_written(tmp, "model.safetensors");
}

TEST(HubDownload, WrongHashIsRefusedAndNothingIsLeft) {
  MockHub m;
  TempDir tmp;
  m.corrupt = 1;
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const std::string e = error_of([&] { hub::snapshot_download(hub::HubClient(fast_options(m)), rq); });
  EXPECT_NE(e.find("SHA-256 mismatch"), std::string::npos) << e;
  EXPECT_NE(e.find(m.file("model.safetensors").etag()), std::string::npos) << e;
  expect_nothing_half_written(tmp, "model.safetensors");
  EXPECT_FALSE(fs::exists(storage(tmp) + "/blobs/" + m.file("model.safetensors").etag()));
}

TEST(HubDownload, OfflineUsesTheCacheOrSaysWhy) {
  MockHub m;
  TempDir tmp;
  hub::HubOptions o = fast_options(m);
  o.offline = true;
  std::string e = error_of([&] { hub::snapshot_download(hub::HubClient(o), request_for(tmp)); });
  EXPECT_NE(e.find("HF_HUB_OFFLINE"), std::string::npos) << e;
  EXPECT_NE(e.find("not in the cache"), std::string::npos) << e;
  hub::snapshot_download(hub::HubClient(fast_options(m)), request_for(tmp));
  const int heads = m.heads;
  const auto r = hub::snapshot_download(hub::HubClient(o), request_for(tmp));
  EXPECT_TRUE(r.offline);
  EXPECT_EQ(r.files, 4);
  EXPECT_EQ(r.commit, kCommit);
  EXPECT_EQ(m.heads, heads);
  EXPECT_EQ(hub::cached_snapshot("org/model", "main", tmp / "hub"), r.path);
  // No Hub at all (nothing listens there): the cached copy, without the long retries.
  hub::HubOptions gone = fast_options(m);
  gone.endpoint = "http://127.0.0.1:1";
  gone.backoff_s = 5;  // what a full round of retries would cost shows in the time
  std::ostringstream log;
  auto rq = request_for(tmp);
  rq.log = &log;
  const auto t0 = std::chrono::steady_clock::now();
  const auto fallback = hub::snapshot_download(hub::HubClient(gone), rq);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 15.0);
  EXPECT_EQ(fallback.path, r.path);
  EXPECT_TRUE(fallback.offline);
  EXPECT_NE(log.str().find("cannot reach"), std::string::npos) << log.str();
}

// The real binary, killed with SIGKILL in the middle of a file, then run
// again: the second run asks for the rest with Range and gets only that.
TEST(HubDownload, KilledProcessResumesFetchingOnlyWhatIsMissing) {
  MockHub m;
  TempDir tmp;
  m.throttle_us = 20000;  // 16 kB per 20 ms: the 300 kB file takes ~0.4 s
  const std::string blob = storage(tmp) + "/blobs/" + m.file("model.safetensors").etag();
  // Everything the child needs is made before fork(): the test's server
  // threads may hold malloc's lock, so the child only calls exec.
  std::vector<std::string> env_strings{"HF_HUB_CACHE=" + tmp / "hub", "HF_ENDPOINT=" + m.endpoint()};
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (kv.rfind("HF_", 0) != 0 && kv.rfind("TRANSFORMERS_OFFLINE=", 0) != 0) env_strings.push_back(kv);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const char* argv[] = {"qsenti", "download", "org/model", "--include", "model.safetensors", "--quiet", nullptr};
  const int devnull = ::open("/dev/null", O_WRONLY);
  ASSERT_GE(devnull, 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execve(qsenti::test::binary(), const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  ::close(devnull);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (m.cdn_bytes < 100000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "qsenti ended before it was killed";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server notices the closed socket
  ASSERT_TRUE(fs::exists(blob + ".incomplete"));
  EXPECT_FALSE(fs::exists(storage(tmp) + "/snapshots/" + kCommit + "/model.safetensors"));
  const int64_t kept = static_cast<int64_t>(fs::file_size(blob + ".incomplete"));
  EXPECT_GT(kept, 0);
  const int64_t served_before = m.cdn_bytes;
  m.throttle_us = 0;
  const auto r = test::run_shell("HF_HUB_CACHE=" + tmp / "hub" + " HF_ENDPOINT=" + m.endpoint() + " " +
                                 qsenti::test::binary() + " download org/model --include model.safetensors --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, storage(tmp) + "/snapshots/" + kCommit + "\n");
  EXPECT_EQ(read_all(storage(tmp) + "/snapshots/" + kCommit + "/model.safetensors"),
            m.file("model.safetensors").content);
  EXPECT_EQ(m.ranges().back(), "bytes=" + std::to_string(kept) + "-");
  EXPECT_EQ(m.cdn_bytes - served_before, 300000 - kept) << "the second run fetched only what was missing";
  EXPECT_FALSE(fs::exists(blob + ".incomplete"));
}

TEST(HubDownload, CommandLineErrorsAreClear) {
  MockHub m;
  TempDir tmp;
  const std::string env = "HF_HUB_CACHE=" + tmp / "hub" + " HF_ENDPOINT=" + m.endpoint() + " ";
  auto r = test::run_shell(env + qsenti::test::binary() + " download org/gated 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("HF_TOKEN"), std::string::npos) << r.output;
  r = test::run_shell(env + qsenti::test::binary() + " download org/nothing 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("404"), std::string::npos) << r.output;
  r = test::run_shell(env + "HF_HUB_OFFLINE=1 " + qsenti::test::binary() + " download org/model 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("HF_HUB_OFFLINE"), std::string::npos) << r.output;
  r = test::run_shell(env + qsenti::test::binary() + " download not-a-repo 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// --model Org/Name: the cached snapshot; offline with nothing cached, a clear error.
TEST(HubModelSource, RepoIdWhereAModelFolderIsAccepted) {
  MockHub m;
  TempDir tmp;
  EnvGuard env;
  env.set("HF_HUB_CACHE", (tmp / "hub").c_str());
  env.set("HF_ENDPOINT", m.endpoint().c_str());
  env.set("HF_HUB_OFFLINE", "1");
  env.set("TRANSFORMERS_OFFLINE", nullptr);
  EXPECT_TRUE(cli::looks_like_repo_id("org/model"));
  EXPECT_FALSE(cli::looks_like_repo_id(tmp.path()));
  EXPECT_FALSE(cli::looks_like_repo_id("models"));
  EXPECT_EQ(cli::hub_repo_for_size("embedding", "0.6B"), "Qwen/Qwen3-Embedding-0.6B");
  EXPECT_EQ(cli::hub_repo_for_size("lora", "4B"), "Qwen/Qwen3-4B");
  std::ostringstream log;
  const std::string e = error_of([&] { cli::resolve_model_source("org/model", log); });
  EXPECT_NE(e.find("HF_HUB_OFFLINE"), std::string::npos) << e;
  env.set("HF_HUB_OFFLINE", "0");
  const std::string snap = cli::resolve_model_source("org/model", log);  // downloads it
  EXPECT_EQ(snap, storage(tmp) + "/snapshots/" + kCommit);
  env.set("HF_HUB_OFFLINE", "1");
  EXPECT_EQ(cli::resolve_model_source("org/model", log), snap);
  EXPECT_EQ(cli::resolve_model_source(tmp.path(), log), tmp.path());  // a folder stays a folder
  std::string model = "org/model", out, size;
  std::istringstream none;
  std::ostringstream prompt;
  cli::complete_train_paths(model, out, size, "lora", false, none, prompt, log);
  EXPECT_EQ(model, snap);
  // The mock's config.json has Qwen3's defaults, the 0.6B shape: --out is named by that size.
  EXPECT_EQ(out, "models/lora-0.6B");
}

}  // namespace
}  // namespace qsenti
