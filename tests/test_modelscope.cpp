// qsenti download --source modelscope against a mock ModelScope on 127.0.0.1
// (cpp-httplib): the SDK's listing (repo/files?Revision&Recursive, Data.Files
// with Path, Type, Size, Sha256) and file endpoint (repo?Revision&FilePath),
// big files redirected to a second server standing for the CDN, 404s, 5xx,
// a dropped connection, wrong sizes and hashes, offline use. Each case ends
// with a complete verified file in ModelScope's cache layout or a clear error,
// and nothing half-written in the model folder.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/model_source.h"
#include "methods/classifier.h"
#include "methods/model_resolver.h"
#include "util/error.h"
#include "hub/modelscope_cache.h"
#include "hub/modelscope_client.h"
#include "hub/modelscope_download.h"
#include "hub_test_util.h"
#include "test_util.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;
using test::EnvGuard;
using test::error_of;
using test::pseudo_random_bytes;
using test::read_all;
using test::sha256_hex;
using test::TempDir;

// ModelScope (API and file endpoint) on one port, its CDN on another.
class MockModelScope {
 public:
  MockModelScope() {
    files_["config.json"] = R"({"model_type": "qwen3"})";
    files_["configuration.json"] = R"({"framework": "pytorch", "task": "text-generation"})";
    files_["model.safetensors"] = pseudo_random_bytes(300000, 1);
    files_["sub/dir/extra.bin"] = pseudo_random_bytes(5000, 2);
    setup_api();
    setup_cdn();
    api_port_ = api_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    api_thread_ = std::thread([this] { api_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
  }
  ~MockModelScope() {
    // httplib's stop() only closes a socket whose accept loop has started:
    // a test done before that would leave listen() waiting for ever.
    for (int i = 0; i < 5000 && !(api_.is_running() && cdn_.is_running()); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    api_.stop();
    cdn_.stop();
    api_thread_.join();
    cdn_thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(api_port_); }
  const std::string& file(const std::string& p) const { return files_.at(p); }
  void set_file(const std::string& p, const std::string& content) {
    std::lock_guard<std::mutex> lk(mu_);
    files_[p] = content;
  }

  // Faults, set by the tests.
  std::atomic<int> list_errors{0};      // the next listings answer 503
  std::atomic<int> file_errors{0};      // the next file GETs answer 500
  std::atomic<int64_t> drop_after{-1};  // the next CDN GET drops the connection after this many bytes
  std::atomic<int> size_off{0};         // the listing announces model.safetensors one byte longer
  std::atomic<int> corrupt{0};          // CDN: flip a byte
  // What was asked and served.
  std::atomic<int64_t> cdn_bytes{0};
  std::atomic<int> file_gets{0}, listings{0};
  std::vector<std::string> ranges() {
    std::lock_guard<std::mutex> lk(mu_);
    return ranges_;
  }
  std::vector<std::string> queries() {
    std::lock_guard<std::mutex> lk(mu_);
    return queries_;
  }
  bool cdn_saw_credentials() const { return cdn_creds_; }
  bool api_saw_token() const { return api_token_; }

 private:
  static bool big(const std::string& path) { return path == "model.safetensors"; }

  // ModelScope's error shape: an HTTP status and {"Code", "Message", "Success": false}.
  static void refuse(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"Code", 10010205001}, {"Message", message}, {"Success", false}}.dump(),
                    "application/json");
  }

  void setup_api() {
    api_.Get(R"(/api/v1/models/([^/]+)/([^/]+)/repo/files)", [this](const httplib::Request& req, httplib::Response& res) {
      ++listings;
      {
        std::lock_guard<std::mutex> lk(mu_);
        queries_.push_back("files Revision=" + req.get_param_value("Revision") +
                           " Recursive=" + req.get_param_value("Recursive"));
      }
      if (req.get_header_value("Authorization") == "Bearer ms-good" &&
          req.get_header_value("Cookie") == "m_session_id=ms-good")
        api_token_ = true;
      if (list_errors > 0) {
        --list_errors;
        res.status = 503;
        return;
      }
      if (req.matches[1] != "org" || req.matches[2] != "model") return refuse(res, 404, "模型不存在 (model not found)");
      if (req.get_param_value("Revision") != "master" && req.get_param_value("Revision") != "v1.0")
        return refuse(res, 404, "revision not found");
      std::lock_guard<std::mutex> lk(mu_);
      nlohmann::json files = nlohmann::json::array();
      files.push_back({{"Path", "sub"}, {"Name", "sub"}, {"Type", "tree"}, {"Size", 0}});
      files.push_back({{"Path", "sub/dir"}, {"Name", "dir"}, {"Type", "tree"}, {"Size", 0}});
      for (const auto& [p, c] : files_) {
        int64_t size = static_cast<int64_t>(c.size());
        if (big(p) && size_off > 0) size += 1;
        files.push_back({{"Path", p},
                         {"Name", fs::path(p).filename().string()},
                         {"Type", "blob"},
                         {"Size", size},
                         {"Sha256", sha256_hex(c)},
                         {"Revision", "0123abcd"}});
      }
      nlohmann::json j{{"Code", 200}, {"Data", {{"Files", files}}}, {"Message", "success"}, {"Success", true}};
      res.set_content(j.dump(), "application/json");
    });
    api_.Get(R"(/api/v1/models/([^/]+)/([^/]+)/repo)", [this](const httplib::Request& req, httplib::Response& res) {
      ++file_gets;
      const std::string path = req.get_param_value("FilePath");
      {
        std::lock_guard<std::mutex> lk(mu_);
        queries_.push_back("repo Revision=" + req.get_param_value("Revision") + " FilePath=" + path);
      }
      if (file_errors > 0) {
        --file_errors;
        res.status = 500;
        return;
      }
      if (req.matches[1] != "org" || req.matches[2] != "model") return refuse(res, 404, "model not found");
      std::string content;
      {
        std::lock_guard<std::mutex> lk(mu_);
        auto it = files_.find(path);
        if (it == files_.end()) return refuse(res, 404, "file not found");
        content = it->second;
      }
      if (big(path)) {  // as ModelScope does for big files: a redirect to its object store
        res.status = 302;
        res.set_header("Location", "http://127.0.0.1:" + std::to_string(cdn_port_) + "/oss/" + sha256_hex(content) +
                                       "?Expires=1&Signature=x");
        return;
      }
      res.set_content(content, "application/octet-stream");
    });
  }

  void setup_cdn() {
    cdn_.Get(R"(/oss/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.has_header("Authorization") || req.has_header("Cookie")) cdn_creds_ = true;
      std::shared_ptr<std::string> body;
      {
        std::lock_guard<std::mutex> lk(mu_);
        ranges_.push_back(req.get_header_value("Range"));
        for (const auto& [p, c] : files_)
          if (sha256_hex(c) == req.matches[1]) body = std::make_shared<std::string>(c);
      }
      if (!body) {
        res.status = 404;
        return;
      }
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
                                 }
                                 return true;
                               });
    });
  }

  std::map<std::string, std::string> files_;
  httplib::Server api_, cdn_;
  int api_port_ = 0, cdn_port_ = 0;
  std::thread api_thread_, cdn_thread_;
  std::mutex mu_;
  std::vector<std::string> ranges_, queries_;
  std::atomic<bool> cdn_creds_{false}, api_token_{false};
};

hub::ModelScopeOptions fast_options(const MockModelScope& m) {
  hub::ModelScopeOptions o;
  o.endpoint = m.endpoint();
  o.transfer.backoff_s = 0.01;
  o.transfer.max_retries = 3;
  return o;
}

hub::SnapshotRequest request_for(const TempDir& tmp, const std::string& repo = "org/model") {
  hub::SnapshotRequest r;
  r.repo_id = repo;
  r.revision = hub::kModelScopeDefaultRevision;
  r.cache_dir = tmp / "ms";
  r.progress = false;
  return r;
}

std::string model_dir(const TempDir& tmp) { return tmp / "ms/models/org/model"; }

// No trace of `file` in the model folder, no finished-download record, no partial file left.
void expect_nothing_half_written(const TempDir& tmp, const std::string& file) {
  EXPECT_FALSE(fs::exists(model_dir(tmp) + "/" + file));
  EXPECT_FALSE(fs::exists(model_dir(tmp) + "/.qsenti-download.json"));
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(tmp / "ms", ec))
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
}

// ---- the cache layout and the environment ----------------------------------

TEST(ModelScopeCache, SdkLayoutDotsMaskedAndEnvironment) {
  TempDir tmp;
  EnvGuard env;
  env.set("MODELSCOPE_CACHE", nullptr);
  env.set("HOME", tmp.path().c_str());
  EXPECT_EQ(hub::modelscope_default_cache_dir(), tmp / ".cache/modelscope/hub");
  env.set("MODELSCOPE_CACHE", "~/msc");
  EXPECT_EQ(hub::modelscope_default_cache_dir(), tmp / "msc");
  // modelscope's own folder name: every '.' of the model name as "___".
  const hub::ModelScopeCache c(tmp / "msc", "Qwen/Qwen2.5-0.5B");
  EXPECT_EQ(c.model_dir(), tmp / "msc/models/Qwen/Qwen2___5-0___5B");
  EXPECT_EQ(c.file_path("a/b.json"), c.model_dir() + "/a/b.json");
  EXPECT_EQ(fs::path(c.incomplete_path("a/b.json")).parent_path().string(),
            tmp / "msc/models/._____temp/Qwen/Qwen2___5-0___5B");
  EXPECT_THROW(c.file_path("../x"), InputError);
  EXPECT_THROW(hub::ModelScopeCache(tmp.path(), "no-owner"), Error);

  env.set("MODELSCOPE_ENDPOINT", nullptr);
  env.set("MODELSCOPE_DOMAIN", nullptr);
  env.set("MODELSCOPE_API_TOKEN", nullptr);
  env.set("HF_HUB_OFFLINE", nullptr);
  env.set("TRANSFORMERS_OFFLINE", nullptr);
  auto o = hub::modelscope_options_from_env();
  EXPECT_EQ(o.endpoint, "https://modelscope.cn");
  EXPECT_FALSE(o.token);
  EXPECT_FALSE(o.offline);
  env.set("MODELSCOPE_DOMAIN", "www.modelscope.cn");  // the SDK's older variable: a bare domain
  EXPECT_EQ(hub::modelscope_options_from_env().endpoint, "https://www.modelscope.cn");
  env.set("MODELSCOPE_ENDPOINT", "http://127.0.0.1:9/");
  env.set("MODELSCOPE_API_TOKEN", "ms-x");
  env.set("HF_HUB_OFFLINE", "1");
  o = hub::modelscope_options_from_env();
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(o.token.value_or(""), "ms-x");
  EXPECT_TRUE(o.offline);
}

// ---- downloads ----------------------------------------------------------------

TEST(ModelScopeDownload, WholeRepoIntoTheSdkLayoutVerified) {
  MockModelScope m;
  TempDir tmp;
  const hub::ModelScopeClient client(fast_options(m));
  const auto r = hub::modelscope_download(client, request_for(tmp));
  EXPECT_EQ(r.path, model_dir(tmp));
  EXPECT_EQ(r.files, 4);
  EXPECT_EQ(r.downloaded_files, 4);
  EXPECT_FALSE(r.offline);
  for (const char* f : {"config.json", "configuration.json", "model.safetensors", "sub/dir/extra.bin"})
    EXPECT_EQ(read_all(r.path + "/" + f), m.file(f)) << f;
  EXPECT_TRUE(fs::exists(r.path + "/.qsenti-download.json"));
  EXPECT_FALSE(fs::exists(r.path + "/sub/dir/extra.bin.incomplete"));
  // The SDK's endpoints and parameters.
  const auto q = m.queries();
  ASSERT_FALSE(q.empty());
  EXPECT_EQ(q[0], "files Revision=master Recursive=True");
  EXPECT_NE(std::find(q.begin(), q.end(), "repo Revision=master FilePath=sub/dir/extra.bin"), q.end());
  EXPECT_EQ(m.cdn_bytes, 300000);
  // Again: nothing to fetch, the files are there at the listed size and hash.
  const int gets = m.file_gets;
  const auto again = hub::modelscope_download(client, request_for(tmp));
  EXPECT_EQ(again.downloaded_files, 0);
  EXPECT_EQ(m.file_gets, gets);
  EXPECT_EQ(hub::modelscope_cached("org/model", "", tmp / "ms"), model_dir(tmp));
}

TEST(ModelScopeCache, FindsWhatTheNewerSdkDownloadedItself) {
  TempDir tmp;
  // modelscope_hub's own layout, no qsenti record: found by revision, else master.
  const std::string snap = tmp / "ms/models/Qwen--Qwen3-0.6B/snapshots/master";
  fs::create_directories(snap);
  std::ofstream(snap + "/config.json") << "{}";
  EXPECT_EQ(hub::modelscope_cached("Qwen/Qwen3-0.6B", "", tmp / "ms"), snap);
  EXPECT_EQ(hub::modelscope_cached("Qwen/Qwen3-0.6B", "master", tmp / "ms"), snap);
  EXPECT_EQ(hub::modelscope_cached("Qwen/Qwen3-0.6B", "v2", tmp / "ms"), "");
  EXPECT_EQ(hub::modelscope_cached("Qwen/Qwen3-4B", "", tmp / "ms"), "");
  // An empty snapshot folder is no model.
  fs::create_directories(tmp / "ms/models/Org--Empty/snapshots/master");
  EXPECT_EQ(hub::modelscope_cached("Org/Empty", "", tmp / "ms"), "");
}

TEST(ModelScopeDownload, ChangedFileIsReplacedAloneAndIncludeGlobs) {
  MockModelScope m;
  TempDir tmp;
  const hub::ModelScopeClient client(fast_options(m));
  auto rq = request_for(tmp);
  rq.include = {"*.json"};
  auto r = hub::modelscope_download(client, rq);
  EXPECT_EQ(r.files, 2);
  EXPECT_FALSE(fs::exists(r.path + "/model.safetensors"));
  // A part of the repo is not the model offline, the same part is.
  EXPECT_EQ(hub::modelscope_cached("org/model", "", tmp / "ms"), "");
  r = hub::modelscope_download(client, request_for(tmp));
  EXPECT_EQ(r.downloaded_files, 2);  // only what the first run did not fetch
  m.set_file("config.json", R"({"model_type": "qwen3", "changed": true})");
  r = hub::modelscope_download(client, request_for(tmp));
  EXPECT_EQ(r.downloaded_files, 1);
  EXPECT_EQ(read_all(r.path + "/config.json"), m.file("config.json"));
}

TEST(ModelScopeDownload, MissingRepoOrRevisionSays404) {
  MockModelScope m;
  TempDir tmp;
  const hub::ModelScopeClient client(fast_options(m));
  std::string e = error_of([&] { hub::modelscope_download(client, request_for(tmp, "org/nothing")); });
  EXPECT_NE(e.find("404"), std::string::npos) << e;
  EXPECT_NE(e.find("no such model"), std::string::npos) << e;
  EXPECT_NE(e.find("model not found"), std::string::npos) << e;  // ModelScope's own Message
  auto rq = request_for(tmp);
  rq.revision = "v9";
  e = error_of([&] { hub::modelscope_download(client, rq); });
  EXPECT_NE(e.find("404"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp / "ms/models/org/nothing"));
}

TEST(ModelScopeDownload, ServerErrorsAreRetried) {
  MockModelScope m;
  TempDir tmp;
  m.list_errors = 2;
  m.file_errors = 2;
  const auto r = hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), request_for(tmp));
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors"));
  EXPECT_EQ(m.listings, 3);
  // More failures than retries: a clear error, nothing half-written.
  MockModelScope m2;
  TempDir tmp2;
  m2.file_errors = 100;
  auto rq = request_for(tmp2);
  rq.include = {"config.json"};
  const std::string e = error_of([&] { hub::modelscope_download(hub::ModelScopeClient(fast_options(m2)), rq); });
  EXPECT_NE(e.find("HTTP 500"), std::string::npos) << e;
  expect_nothing_half_written(tmp2, "config.json");
}

TEST(ModelScopeDownload, DroppedConnectionResumesWithRangeFetchingOnlyTheRest) {
  MockModelScope m;
  TempDir tmp;
  m.drop_after = 100000;
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const auto r = hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), rq);
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors"));
  const auto ranges = m.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=100000-");
  EXPECT_EQ(m.cdn_bytes, 300000) << "the resumed request fetched only the missing bytes";
}

TEST(ModelScopeDownload, KilledRunResumesFromItsPartialFile) {
  MockModelScope m;
  TempDir tmp;
  const hub::ModelScopeCache cache(tmp / "ms", "org/model");
  // What a killed run leaves: the first 120000 bytes in the temporary folder.
  fs::create_directories(fs::path(cache.incomplete_path("model.safetensors")).parent_path());
  test::write_file(cache.incomplete_path("model.safetensors"), m.file("model.safetensors").substr(0, 120000));
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), rq);
  EXPECT_EQ(read_all(cache.file_path("model.safetensors")), m.file("model.safetensors"));
  EXPECT_EQ(m.ranges().back(), "bytes=120000-");
  EXPECT_EQ(m.cdn_bytes, 300000 - 120000);
  EXPECT_FALSE(fs::exists(cache.incomplete_path("model.safetensors")));
}

TEST(ModelScopeDownload, WrongSizeIsRefusedAndNothingIsLeft) {
  MockModelScope m;
  TempDir tmp;
  m.size_off = 1;  // the listing says 300001, the server sends 300000
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const std::string e = error_of([&] { hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), rq); });
  EXPECT_NE(e.find("ModelScope announced 300001"), std::string::npos) << e;
  expect_nothing_half_written(tmp, "model.safetensors");
}

TEST(ModelScopeDownload, WrongHashIsRefusedAndNothingIsLeft) {
  MockModelScope m;
  TempDir tmp;
  m.corrupt = 1;
  auto rq = request_for(tmp);
  rq.include = {"model.safetensors"};
  const std::string e = error_of([&] { hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), rq); });
  EXPECT_NE(e.find("SHA-256 mismatch"), std::string::npos) << e;
  EXPECT_NE(e.find("ModelScope says " + sha256_hex(m.file("model.safetensors"))), std::string::npos) << e;
  expect_nothing_half_written(tmp, "model.safetensors");
  // The next run downloads it anew and gets it right.
  const auto r = hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), rq);
  EXPECT_EQ(read_all(r.path + "/model.safetensors"), m.file("model.safetensors"));
}

TEST(ModelScopeDownload, TokenGoesToModelScopeNeverToTheCdn) {
  MockModelScope m;
  TempDir tmp;
  auto o = fast_options(m);
  o.token = "ms-good";
  hub::modelscope_download(hub::ModelScopeClient(o), request_for(tmp));
  EXPECT_TRUE(m.api_saw_token());
  EXPECT_FALSE(m.cdn_saw_credentials());
}

TEST(ModelScopeDownload, OfflineUsesTheCacheOrSaysWhy) {
  MockModelScope m;
  TempDir tmp;
  auto o = fast_options(m);
  o.offline = true;
  std::string e = error_of([&] { hub::modelscope_download(hub::ModelScopeClient(o), request_for(tmp)); });
  EXPECT_NE(e.find("HF_HUB_OFFLINE"), std::string::npos) << e;
  EXPECT_NE(e.find("not in the ModelScope cache"), std::string::npos) << e;
  EXPECT_EQ(m.listings, 0);
  hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), request_for(tmp));
  const int listings = m.listings;
  const auto r = hub::modelscope_download(hub::ModelScopeClient(o), request_for(tmp));
  EXPECT_TRUE(r.offline);
  EXPECT_EQ(r.path, model_dir(tmp));
  EXPECT_EQ(r.files, 4);
  EXPECT_EQ(m.listings, listings) << "offline asks nobody";
  // A file gone from the folder: not a finished download any more.
  fs::remove(model_dir(tmp) + "/config.json");
  e = error_of([&] { hub::modelscope_download(hub::ModelScopeClient(o), request_for(tmp)); });
  EXPECT_NE(e.find("HF_HUB_OFFLINE"), std::string::npos) << e;
  // ModelScope unreachable with a finished copy: the copy, with a note.
  hub::modelscope_download(hub::ModelScopeClient(fast_options(m)), request_for(tmp));
  auto down = fast_options(m);
  down.endpoint = "http://127.0.0.1:9";  // nothing listens there
  std::ostringstream log;
  auto rq = request_for(tmp);
  rq.log = &log;
  EXPECT_TRUE(hub::modelscope_download(hub::ModelScopeClient(down), rq).offline);
  EXPECT_NE(log.str().find("cannot reach"), std::string::npos) << log.str();
}

// ---- the command line ---------------------------------------------------------

TEST(ModelScopeCli, DownloadSourceEnvironmentAndPrefix) {
  MockModelScope m;
  TempDir tmp;
  const std::string env = "MODELSCOPE_CACHE=" + tmp / "ms" + " MODELSCOPE_ENDPOINT=" + m.endpoint() +
                          " HF_HUB_OFFLINE= TRANSFORMERS_OFFLINE= QSENTI_MODEL_SOURCE= ";
  auto r = test::run_shell(env + test::binary() + " download org/model --source modelscope --include '*.json' --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, model_dir(tmp) + "\n");
  EXPECT_EQ(read_all(model_dir(tmp) + "/config.json"), m.file("config.json"));
  r = test::run_shell(env + "QSENTI_MODEL_SOURCE=modelscope " + test::binary() + " download org/model --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_all(model_dir(tmp) + "/model.safetensors"), m.file("model.safetensors"));
  r = test::run_shell(env + test::binary() + " download modelscope:org/model --local-dir " + tmp / "here" +
                      " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, tmp / "here" + "\n");
  EXPECT_EQ(read_all(tmp / "here/sub/dir/extra.bin"), m.file("sub/dir/extra.bin"));
  r = test::run_shell(env + test::binary() + " download org/nothing --source modelscope 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("404"), std::string::npos) << r.output;
  r = test::run_shell(env + test::binary() + " download org/model --source nowhere 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not a model source"), std::string::npos) << r.output;
}

// A repo id where a model folder is accepted: `modelscope:Org/Name` or
// QSENTI_MODEL_SOURCE=modelscope, downloaded once, then from the cache.
TEST(ModelScopeModelSource, RepoIdWhereAModelFolderIsAccepted) {
  MockModelScope m;
  TempDir tmp;
  EnvGuard env;
  env.set("MODELSCOPE_CACHE", (tmp / "ms").c_str());
  env.set("MODELSCOPE_ENDPOINT", m.endpoint().c_str());
  env.set("HF_HUB_OFFLINE", "1");
  env.set("TRANSFORMERS_OFFLINE", nullptr);
  env.set("QSENTI_MODEL_SOURCE", nullptr);
  EXPECT_TRUE(cli::looks_like_repo_id("modelscope:org/model"));
  EXPECT_TRUE(cli::looks_like_repo_id("hf:org/model"));
  EXPECT_FALSE(cli::looks_like_repo_id("modelscope:nothing"));
  EXPECT_EQ(cli::split_model_source("modelscope:org/model").first, cli::ModelSource::kModelScope);
  EXPECT_EQ(cli::split_model_source("org/model").first, cli::ModelSource::kHub);
  std::ostringstream log;
  const std::string e = error_of([&] { cli::resolve_model_source("modelscope:org/model", log); });
  EXPECT_NE(e.find("HF_HUB_OFFLINE"), std::string::npos) << e;
  env.set("HF_HUB_OFFLINE", nullptr);
  EXPECT_EQ(cli::resolve_model_source("modelscope:org/model", log), model_dir(tmp));
  env.set("HF_HUB_OFFLINE", "1");
  env.set("QSENTI_MODEL_SOURCE", "modelscope");
  EXPECT_EQ(cli::split_model_source("org/model").first, cli::ModelSource::kModelScope);
  EXPECT_EQ(cli::resolve_model_source("org/model", log), model_dir(tmp));
  EXPECT_EQ(cli::cached_repo_snapshot("org/model"), model_dir(tmp));
  env.set("QSENTI_MODEL_SOURCE", "nowhere");
  EXPECT_THROW(cli::resolve_model_source("org/model", log), Error);
}

// Part of issue 18: `tokenize --model` (and info, --base, export --model)
// take a repo id too. The mock serves the bundled tokenizer as a repo; its
// ids equal those of the folder itself.
TEST(ModelScopeModelSource, TokenizeTakesARepoId) {
  MockModelScope m;
  TempDir tmp;
  const std::string dir = test::source_path("assets/qwen3-tokenizer");
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) m.set_file(e.path().filename().string(), read_all(e.path().string()));
  test::write_file(tmp / "in.txt", "今天天气真好\nhello world\n");
  const std::string env = "MODELSCOPE_CACHE=" + tmp / "ms" + " MODELSCOPE_ENDPOINT=" + m.endpoint() +
                          " HF_HUB_OFFLINE= TRANSFORMERS_OFFLINE= QSENTI_MODEL_SOURCE= ";
  const auto want = test::run_shell(std::string(test::binary()) + " tokenize --model " + dir + " < " + tmp / "in.txt");
  ASSERT_EQ(want.exit_code, 0) << want.output;
  const auto got = test::run_shell(env + test::binary() + " tokenize --model modelscope:org/model < " + tmp / "in.txt");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(got.output, want.output);
  EXPECT_TRUE(fs::exists(model_dir(tmp) + "/tokenizer.json"));
  // Neither a folder nor a repo id: the usage error it always was.
  const auto bad = test::run_shell(std::string(test::binary()) + " tokenize --model " + tmp / "missing" + " < /dev/null 2>&1");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

// `info` too: the tiny Qwen3 of the fixtures served as a repo reads as the folder does.
TEST(ModelScopeModelSource, InfoTakesARepoId) {
  MockModelScope m;
  TempDir tmp;
  const std::string dir = test::source_path("tests/fixtures/refs/tiny-qwen3");
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors"})
    m.set_file(f, read_all(dir + "/" + f));
  const std::string env = "MODELSCOPE_CACHE=" + tmp / "ms" + " MODELSCOPE_ENDPOINT=" + m.endpoint() +
                          " HF_HUB_OFFLINE= TRANSFORMERS_OFFLINE= QSENTI_MODEL_SOURCE= ";
  const auto want = test::run_shell(std::string(test::binary()) + " info --json " + dir);
  ASSERT_EQ(want.exit_code, 0) << want.output;
  const auto got = test::run_shell(env + test::binary() + " info --json modelscope:org/model");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  auto a = nlohmann::json::parse(want.output), b = nlohmann::json::parse(got.output);
  EXPECT_EQ(b["path"], model_dir(tmp));
  a.erase("path");
  b.erase("path");
  EXPECT_EQ(a, b);
  EXPECT_GT(a["parameters"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace qsenti

namespace qsenti {
namespace {

// A peft adapter's recorded base_model_name_or_path is often a repo id
// ("Qwen/Qwen3-0.6B"): the installed resolver (the CLI's: the Hub /
// ModelScope cache) turns it into the folder; without one, --base is asked for.
TEST(ModelSourceResolver, AdapterBaseRecordedAsARepoIdIsResolved) {
  TempDir tmp;
  fs::create_directories(tmp / "base");
  RunManifest m;
  m.base_model = "org/base";
  m.extra = {{"source", "peft"}};
  PredictOptions po;
  set_model_resolver({});
  try {
    run_base_model(tmp / "adapter", m, po);
    ADD_FAILURE() << "no error without a resolver";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--base"), std::string::npos) << e.what();
  }
  std::string asked;
  set_model_resolver([&](const std::string& id) {
    asked = id;
    return tmp / "base";
  });
  EXPECT_EQ(run_base_model(tmp / "adapter", m, po), tmp / "base");
  EXPECT_EQ(asked, "org/base");
  // --base wins over the recorded one, and a folder is never resolved.
  fs::create_directories(tmp / "other");
  po.base_model = tmp / "other";
  asked.clear();
  EXPECT_EQ(run_base_model(tmp / "adapter", m, po), tmp / "other");
  EXPECT_EQ(asked, "");
  set_model_resolver({});
}

}  // namespace
}  // namespace qsenti
