// qsenti serve: every route and error code over real HTTP (cpp-httplib's
// client), on a tiny trained method-A run and on fake classifiers; answers
// equal `qsenti predict` for the same texts; concurrent clients; the batcher.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "fake_classifier.h"
#include "serve/api_error.h"
#include "serve/batch_queue.h"
#include "serve/metrics.h"
#include "serve/request_parse.h"
#include "serve/server.h"
#include "test_util.h"
#include "text/tokenizer.h"

namespace qsenti {
namespace {

using nlohmann::json;
using test::TempDir;

// A server on a free loopback port, serving in a thread while it lives.
class RunningServer {
 public:
  explicit RunningServer(serve::ServeOptions o) {
    o.port = 0;
    server_ = std::make_unique<serve::Server>(std::move(o));
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->listen(); });
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  httplib::Result post(const std::string& path, const std::string& body, httplib::Headers h = {}) const {
    return client().Post(path.c_str(), h, body, "application/json");
  }
  serve::Server& server() { return *server_; }
  int port() const { return port_; }

 private:
  std::unique_ptr<serve::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

json body_of(const httplib::Result& r) { return json::parse(r->body); }

void expect_error(const httplib::Result& r, int status, const std::string& type) {
  ASSERT_TRUE(r) << "no answer";
  EXPECT_EQ(r->status, status) << r->body;
  json j = body_of(r);
  EXPECT_EQ(j["error_type"], type) << r->body;
  EXPECT_TRUE(j["error"].is_string() && !j["error"].get<std::string>().empty()) << r->body;
}

// ---- the batcher on its own ----------------------------------------------

TEST(ServeBatcher, KeepsTheTokenBudgetStartsWithTheOldestAndGroupsSimilarLengths) {
  std::deque<serve::QueuedInput> q;
  auto job = std::make_shared<serve::Job>(6);
  const int64_t lens[] = {10, 100, 12, 95, 11, 500};
  for (size_t i = 0; i < 6; ++i) q.push_back({job, i, "t", lens[i], serve::Clock::now()});
  serve::BatchLimits limits{40, 0, 0};
  auto b = serve::take_batch(q, limits);
  // Oldest (10) first, then the nearest lengths 11 and 12: 3 x 12 = 36 <= 40.
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].tokens, 10);
  EXPECT_EQ(b[1].tokens, 11);
  EXPECT_EQ(b[2].tokens, 12);
  // Next the oldest left (100) goes alone, over nothing else fits: 2 x 100 > 40.
  b = serve::take_batch(q, limits);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].tokens, 100);
  limits.max_batch_tokens = 10000;
  limits.max_batch_requests = 1;
  b = serve::take_batch(q, limits);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].tokens, 95);
  // Inputs of a cancelled job (client gone) are dropped.
  job->cancel();
  EXPECT_TRUE(serve::take_batch(q, limits).empty());
  EXPECT_TRUE(q.empty());
}

// Found by fuzz_serve_request: a number beyond a double escaped parse_body
// as nlohmann's out_of_range, which the server answered 424 Backend.
TEST(ServeRequests, ANumberBeyondADoubleIsTheClientsError) {
  for (const char* body : {R"({"inputs": 1e999})", "[1e999]", R"({"inputs": ["a"], "x": -1e400})"}) {
    try {
      serve::parse_body(body);
      ADD_FAILURE() << body << " was accepted";
    } catch (const serve::ApiError& e) {
      EXPECT_EQ(e.status(), 422) << body;
      EXPECT_EQ(e.type(), "Validation") << body;
    }
  }
}

TEST(ServeMetrics, RendersPrometheusTextWithTeiNames) {
  serve::Metrics m;
  m.inc("te_request_count", "method=\"predict\"");
  m.observe("te_batch_size", 3);
  const std::string t = m.render();
  EXPECT_NE(t.find("te_request_count{method=\"predict\"} 1"), std::string::npos) << t;
  EXPECT_NE(t.find("te_batch_size_bucket{le=\"4\"} 1"), std::string::npos) << t;
  EXPECT_NE(t.find("te_batch_size_bucket{le=\"2\"} 0"), std::string::npos) << t;
  EXPECT_NE(t.find("te_queue_size 0"), std::string::npos) << t;
}

// ---- fake classifiers: every error code, concurrency ----------------------

// Throws for texts containing "boom": the backend failing.
class ExplodingClassifier : public test::FakeClassifier {
 public:
  using FakeClassifier::FakeClassifier;
  torch::Tensor predict_proba(const std::vector<std::string>& texts) override {
    for (const auto& t : texts)
      if (t.find("boom") != std::string::npos) throw std::runtime_error("the model exploded");
    return FakeClassifier::predict_proba(texts);
  }
};

serve::ServeOptions fake_options(const TempDir& tmp) {
  serve::ServeOptions o;
  std::filesystem::create_directories(tmp / "fake");
  test::make_fake_run(tmp / "fake", "classifier", "0.6B", 0.5);
  o.runs = {{"", tmp / "fake"}};
  o.loader = [](const std::string& dir, const PredictOptions&) -> std::unique_ptr<TextClassifier> {
    return std::make_unique<ExplodingClassifier>(RunManifest::load(dir));
  };
  o.max_input_length = 16;
  o.max_client_batch_size = 4;
  return o;
}

TEST(ServeFake, PredictShapesAndSortedScores) {
  TempDir tmp;
  RunningServer s(fake_options(tmp));
  auto r = s.post("/predict", R"({"inputs": "很好"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = body_of(r);
  const double pos = test::fake_positive_probability("很好", 0.5);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["label"], "positive");
  EXPECT_NEAR(j[0]["score"].get<double>(), pos, 1e-6);
  EXPECT_NEAR(j[1]["score"].get<double>(), 1 - pos, 1e-6);
  EXPECT_FALSE(r->get_header_value("x-compute-time").empty());
  EXPECT_FALSE(r->get_header_value("x-queue-time").empty());
  EXPECT_EQ(r->get_header_value("x-compute-tokens"),
            std::to_string(Tokenizer::from_file(Tokenizer::default_path())->encode("很好").size()));
  // A batch [["a"], ["b"]]: one sorted list per input.
  j = body_of(s.post("/predict", R"({"inputs": [["很好"], ["很差"]]})"));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0][0]["label"], "positive");
  EXPECT_EQ(j[1][0]["label"], "negative");
  // ["a"] is one input; raw_scores are log probabilities.
  j = body_of(s.post("/predict", R"({"inputs": ["很差"], "raw_scores": true})"));
  EXPECT_EQ(j[0]["label"], "negative");
  EXPECT_NEAR(j[0]["score"].get<double>(), std::log(1 - test::fake_positive_probability("很差", 0.5)), 1e-5);
}

TEST(ServeFake, EveryErrorCodeInTeiShape) {
  TempDir tmp;
  RunningServer s(fake_options(tmp));
  expect_error(s.post("/predict", "{not json"), 422, "Validation");
  expect_error(s.post("/predict", std::string("{\"inputs\": \"\xff\xfe\"}")), 422, "Validation");  // invalid UTF-8
  expect_error(s.post("/predict", R"({"inputs": 5})"), 422, "Validation");
  expect_error(s.post("/predict", R"({"inputs": "a", "raw_scores": "yes"})"), 422, "Validation");
  expect_error(s.post("/predict", R"({"inputs": ["a", "b"]})"), 422, "Validation");  // a text pair
  expect_error(s.post("/predict", R"({"nothing": 1})"), 422, "Validation");
  expect_error(s.post("/predict", R"({"inputs": ""})"), 422, "Validation");
  expect_error(s.post("/predict", R"({"inputs": []})"), 400, "Empty");
  // More tokens than --max-input-length 16: 422 unless truncated.
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "好 ";
  ASSERT_GT(Tokenizer::from_file(Tokenizer::default_path())->encode(long_text).size(), 16u);
  expect_error(s.post("/predict", json{{"inputs", long_text}}.dump()), 422, "Validation");
  auto t = s.post("/predict", json{{"inputs", long_text}, {"truncate", true}}.dump());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 200) << t->body;
  // 5 inputs > --max-client-batch-size 4.
  expect_error(s.post("/predict", R"({"inputs": [["a"],["b"],["c"],["d"],["e"]]})"), 413, "Validation");
  expect_error(s.post("/classify", R"({"input": ["a","b","c","d","e"]})"), 413, "Validation");
  // A body over the payload limit.
  expect_error(s.post("/predict", json{{"inputs", std::string(2100000, 'a')}}.dump()), 413, "Validation");
  expect_error(s.post("/predict", R"({"inputs": "boom"})"), 424, "Backend");
  expect_error(s.post("/predict", R"({"inputs": "a", "model": "nope"})"), 404, "NotFound");
  // The server still answers well after all that.
  auto ok = s.post("/predict", R"({"inputs": "很好"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  const std::string metrics = s.client().Get("/metrics")->body;
  EXPECT_NE(metrics.find("te_request_failure{err=\"validation\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("te_request_failure{err=\"backend\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("te_request_success{method=\"predict\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("te_batch_size_bucket"), std::string::npos) << metrics;
}

TEST(ServeFake, ApiKeyAndOverload) {
  TempDir tmp;
  serve::ServeOptions o = fake_options(tmp);
  o.api_key = "sekret";
  o.max_concurrent_requests = 1;  // one input at a time: a batch of two cannot be admitted
  RunningServer s(o);
  expect_error(s.post("/predict", R"({"inputs": "a"})"), 401, "Unauthorized");
  expect_error(s.post("/predict", R"({"inputs": "a"})", {{"Authorization", "Bearer wrong"}}), 401, "Unauthorized");
  const httplib::Headers key{{"Authorization", "Bearer sekret"}};
  auto ok = s.post("/predict", R"({"inputs": "a"})", key);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  expect_error(s.post("/predict", R"({"inputs": [["a"], ["b"]]})", key), 429, "Overloaded");
  EXPECT_EQ(s.client().Get("/health")->status, 200);  // open without the key
}

// A method-A stand-in: its vector of a text is (bytes, 1, 0, 0) / norm.
class FakeEmbedder : public test::FakeClassifier {
 public:
  using FakeClassifier::FakeClassifier;
  bool can_embed() const override { return true; }
  torch::Tensor embed(const std::vector<std::string>& texts) override {
    torch::Tensor v = torch::zeros({static_cast<int64_t>(texts.size()), 4});
    for (size_t i = 0; i < texts.size(); ++i) {
      v[static_cast<int64_t>(i)][0] = static_cast<double>(texts[i].size());
      v[static_cast<int64_t>(i)][1] = 1.0;
    }
    return torch::nn::functional::normalize(v, torch::nn::functional::NormalizeFuncOptions().dim(1));
  }
};

std::vector<float> fake_vector(const std::string& text) {
  const double n = std::sqrt(static_cast<double>(text.size() * text.size()) + 1.0);
  return {static_cast<float>(text.size() / n), static_cast<float>(1.0 / n), 0.0f, 0.0f};
}

void expect_vector(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(ServeFake, EmbeddingsInTeiAndOpenAiShapes) {
  TempDir tmp;
  serve::ServeOptions o = fake_options(tmp);
  std::filesystem::create_directories(tmp / "emb");
  test::make_fake_run(tmp / "emb", "embedding", "0.6B", 0.0);
  o.runs = {{"clf", tmp / "fake"}, {"emb", tmp / "emb"}};
  o.loader = [](const std::string& dir, const PredictOptions&) -> std::unique_ptr<TextClassifier> {
    RunManifest m = RunManifest::load(dir);
    if (m.method == "embedding") return std::make_unique<FakeEmbedder>(m);
    return std::make_unique<ExplodingClassifier>(m);
  };
  RunningServer s(o);
  // No model named: the first run that embeds, though the first run does not.
  auto r = s.post("/embed", R"({"inputs": "好"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = body_of(r);
  ASSERT_EQ(j.size(), 1u);
  expect_vector(j[0].get<std::vector<float>>(), fake_vector("好"));
  r = s.post("/embed", R"({"inputs": ["ab", "c"], "model": "emb"})");
  j = body_of(r);
  ASSERT_EQ(j.size(), 2u);
  expect_vector(j[1].get<std::vector<float>>(), fake_vector("c"));
  expect_error(s.post("/embed", R"({"inputs": "x", "model": "clf"})"), 400, "Validation");
  expect_error(s.post("/embed", R"({"inputs": "x", "normalize": false})"), 422, "Validation");

  r = s.post("/v1/embeddings", R"({"input": ["ab", "c"], "model": "emb"})");
  ASSERT_EQ(r->status, 200) << r->body;
  j = body_of(r);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], "emb");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][1]["index"], 1);
  EXPECT_EQ(j["data"][1]["object"], "embedding");
  expect_vector(j["data"][0]["embedding"].get<std::vector<float>>(), fake_vector("ab"));
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int64_t>(), 0);
  // base64: the float32 bytes, little-endian, as OpenAI's clients decode them.
  r = s.post("/v1/embeddings", R"({"input": "ab", "encoding_format": "base64"})");
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string b64 = body_of(r)["data"][0]["embedding"].get<std::string>();
  const std::string table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(table.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  ASSERT_EQ(bytes.size(), 16u);
  std::vector<float> decoded(4);
  std::memcpy(decoded.data(), bytes.data(), 16);
  expect_vector(decoded, fake_vector("ab"));
  expect_error(s.post("/v1/embeddings", R"({"input": [1, 2, 3]})"), 422, "Validation");
  expect_error(s.post("/v1/embeddings", R"({"input": "x", "dimensions": 2})"), 422, "Validation");

  // POST / (TEI's generic route; huggingface_hub's InferenceClient(base_url=...)):
  // with `parameters` the Inference API's text classification, a list per input;
  // without, as the run's kind: an embedding run embeds, a classifier predicts.
  r = s.post("/", R"({"inputs": "好", "parameters": {}, "model": "emb"})");
  ASSERT_EQ(r->status, 200) << r->body;
  j = body_of(r);
  ASSERT_EQ(j.size(), 1u);
  ASSERT_EQ(j[0].size(), 2u);
  EXPECT_EQ(j[0][0]["label"], "positive");
  EXPECT_NEAR(j[0][0]["score"].get<double>(), test::fake_positive_probability("好", 0.0), 1e-6);
  j = body_of(s.post("/", R"({"inputs": ["好", "差"], "parameters": {"top_k": 1}, "model": "emb"})"));
  ASSERT_EQ(j.size(), 2u);
  ASSERT_EQ(j[1].size(), 1u);
  EXPECT_EQ(j[1][0]["label"], "negative");
  j = body_of(s.post("/", R"({"inputs": "好", "parameters": {"function_to_apply": "none"}, "model": "emb"})"));
  EXPECT_NEAR(j[0][0]["score"].get<double>(), std::log(test::fake_positive_probability("好", 0.0)), 1e-5);
  expect_error(s.post("/", R"({"inputs": "x", "parameters": {"function_to_apply": "sigmoid"}})"), 422, "Validation");
  expect_error(s.post("/", R"({"inputs": "x", "parameters": {"top_k": 0}})"), 422, "Validation");
  j = body_of(s.post("/", R"({"inputs": "ab", "model": "emb"})"));
  ASSERT_EQ(j.size(), 1u);
  expect_vector(j[0].get<std::vector<float>>(), fake_vector("ab"));
  j = body_of(s.post("/", R"({"inputs": "好", "model": "clf"})"));
  ASSERT_TRUE(j.is_array() && j[0].is_object()) << j;  // /predict's flat list for one input
  EXPECT_EQ(j[0]["label"], "positive");
}

TEST(ServeFake, TheWebPageIsServedOpenAndCallsTheApi) {
  TempDir tmp;
  serve::ServeOptions o = fake_options(tmp);
  o.api_key = "sekret";
  RunningServer s(o);
  auto page = s.client().Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);  // the page itself needs no key; its calls send it
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* part : {"<textarea id=\"texts\"", "id=\"classify\"", "id=\"model\"", "fetch(path",
                           "\"/predict\"", "\"/v1/models\"", "Authorization"})
    EXPECT_NE(page->body.find(part), std::string::npos) << part;
  // Nothing is loaded from elsewhere: the page works offline.
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);
}

TEST(ServeFake, ConcurrentClientsGetTheirOwnAnswers) {
  TempDir tmp;
  RunningServer s(fake_options(tmp));
  const std::vector<std::string> texts{"很好", "很差", "好的", "不行", "一般", "好极了"};
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c)
    clients.emplace_back([&, c] {
      for (int k = 0; k < 8; ++k) {
        auto cli = s.client();
        const std::string& t = texts[static_cast<size_t>(c + k) % texts.size()];
        auto r = cli.Post("/predict", json{{"inputs", t}}.dump(), "application/json");
        if (!r || r->status != 200) {
          ++failed;
          std::cerr << "client " << c << ": " << (r ? r->body : httplib::to_string(r.error())) << "\n";
          continue;
        }
        json j = json::parse(r->body);
        const double pos = test::fake_positive_probability(t, 0.5);
        const double got = j[0]["label"] == "positive" ? j[0]["score"].get<double>() : j[1]["score"].get<double>();
        if (std::abs(got - pos) > 1e-6) ++wrong;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(s.server().metrics().counter("te_request_success", "method=\"predict\""), 128);
}

// Holds the worker inside a forward of "hold" until released, and records
// every text that reaches the model.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, released = false;
  std::vector<std::string> seen;
};
Gate* g_gate = nullptr;

class GatedClassifier : public test::FakeClassifier {
 public:
  using FakeClassifier::FakeClassifier;
  torch::Tensor predict_proba(const std::vector<std::string>& texts) override {
    std::unique_lock<std::mutex> lock(g_gate->mu);
    for (const auto& t : texts) g_gate->seen.push_back(t);
    if (std::find(texts.begin(), texts.end(), "hold") != texts.end()) {
      g_gate->holding = true;
      g_gate->cv.notify_all();
      g_gate->cv.wait(lock, [] { return g_gate->released; });
    }
    lock.unlock();
    return FakeClassifier::predict_proba(texts);
  }
};

TEST(ServeFake, InputsOfDisconnectedClientsAreDropped) {
  TempDir tmp;
  Gate gate;
  g_gate = &gate;
  serve::ServeOptions o = fake_options(tmp);
  o.loader = [](const std::string& dir, const PredictOptions&) -> std::unique_ptr<TextClassifier> {
    return std::make_unique<GatedClassifier>(RunManifest::load(dir));
  };
  RunningServer s(o);
  // One request occupies the model.
  std::thread busy([&] {
    auto r = s.post("/predict", R"({"inputs": "hold"})");
    EXPECT_TRUE(r && r->status == 200);
  });
  {
    std::unique_lock<std::mutex> lock(gate.mu);
    ASSERT_TRUE(gate.cv.wait_for(lock, std::chrono::seconds(30), [&] { return gate.holding; }));
  }
  // A second client queues its input behind it and hangs up.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string body = R"({"inputs": "gone"})";
  const std::string request = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  auto until = [&](auto pred) {
    for (int i = 0; i < 1500 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return pred();
  };
  ASSERT_TRUE(until([&] { return s.server().metrics().gauge("te_queue_size") == 1; }));
  ::close(fd);
  // The server notices, drops the queued input and counts the request failed.
  EXPECT_TRUE(until([&] {
    return s.server().metrics().counter("te_request_failure", "err=\"disconnected\"") == 1;
  }));
  EXPECT_EQ(s.server().metrics().gauge("te_queue_size"), 0);
  {
    std::lock_guard<std::mutex> lock(gate.mu);
    gate.released = true;
  }
  gate.cv.notify_all();
  busy.join();
  // A later request is answered; "gone" never reached the model.
  auto r = s.post("/predict", R"({"inputs": "after"})");
  ASSERT_TRUE(r && r->status == 200);
  std::lock_guard<std::mutex> lock(gate.mu);
  EXPECT_EQ(std::count(gate.seen.begin(), gate.seen.end(), "gone"), 0);
  EXPECT_EQ(std::count(gate.seen.begin(), gate.seen.end(), "after"), 1);
  g_gate = nullptr;
}

TEST(ServeFake, ClassifyTokenizeDecodeInfoModelsHealth) {
  TempDir tmp;
  RunningServer s(fake_options(tmp));
  json c = body_of(s.post("/classify", R"({"input": ["很好", "很差"]})"));
  ASSERT_EQ(c["data"].size(), 2u) << c;
  EXPECT_EQ(c["object"], "list");
  EXPECT_EQ(c["data"][0]["index"], 0);
  EXPECT_EQ(c["data"][0]["label"], "positive");
  EXPECT_EQ(c["data"][1]["label"], "negative");
  EXPECT_EQ(c["data"][0]["num_classes"], 2);
  EXPECT_NEAR(c["data"][0]["probs"][1].get<double>(), test::fake_positive_probability("很好", 0.5), 1e-6);

  auto tok = Tokenizer::from_file(Tokenizer::default_path());
  const std::string text = "今天天气真好 hello";
  json t = body_of(s.post("/tokenize", json{{"inputs", text}}.dump()));
  ASSERT_EQ(t.size(), 1u);
  std::vector<int32_t> ids;
  std::string joined;
  for (const auto& e : t[0]) {
    ids.push_back(e["id"].get<int32_t>());
    joined += e["text"].get<std::string>();
    EXPECT_EQ(e["stop"].get<size_t>() - e["start"].get<size_t>(), e["text"].get<std::string>().size());
  }
  EXPECT_EQ(ids, tok->encode(text));
  EXPECT_EQ(joined, text);
  json d = body_of(s.post("/decode", json{{"ids", ids}}.dump()));
  EXPECT_EQ(d, text);
  d = body_of(s.post("/decode", json{{"ids", {ids, ids}}}.dump()));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1], text);
  expect_error(s.post("/decode", R"({"ids": [-1]})"), 422, "Validation");

  json info = body_of(s.client().Get("/info"));
  EXPECT_EQ(info["model_id"], "fake");
  EXPECT_EQ(info["model_type"]["classifier"]["id2label"]["1"], "positive");
  EXPECT_EQ(info["model_type"]["classifier"]["label2id"]["negative"], 0);
  EXPECT_EQ(info["max_input_length"], 16);
  EXPECT_EQ(info["max_client_batch_size"], 4);
  EXPECT_EQ(info["max_batch_tokens"], 16384);
  json models = body_of(s.client().Get("/v1/models"));
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "fake");
  EXPECT_EQ(s.client().Get("/health")->status, 200);
  expect_error(s.client().Get("/nope"), 404, "NotFound");
}

TEST(ServeFake, RequestsPickTheirRunByName) {
  TempDir tmp;
  serve::ServeOptions o = fake_options(tmp);
  std::filesystem::create_directories(tmp / "other");
  test::make_fake_run(tmp / "other", "classifier", "0.6B", -3.0);
  o.runs.push_back({"other", tmp / "other"});
  RunningServer s(o);
  json a = body_of(s.post("/predict", R"({"inputs": "很好"})"));
  json b = body_of(s.post("/predict", R"({"inputs": "很好", "model": "other"})"));
  const double pa = test::fake_positive_probability("很好", 0.5), pb = test::fake_positive_probability("很好", -3.0);
  auto positive = [](const json& j) {
    return j[0]["label"] == "positive" ? j[0]["score"].get<double>() : j[1]["score"].get<double>();
  };
  EXPECT_NEAR(positive(a), pa, 1e-6);
  EXPECT_NEAR(positive(b), pb, 1e-6);
  EXPECT_EQ(body_of(s.client().Get("/v1/models"))["data"].size(), 2u);
}

// ---- a real tiny run: answers equal `qsenti predict` -----------------------

class ServeRealRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = new TempDir;
    std::string data;
    std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
    std::string line;
    for (int i = 0; std::getline(in, line) && i < 400; ++i)
      if (i % 5 == 0) data += line + "\n";
    test::write_file(*home_ / "train.tsv", data);
    train_ = new test::CommandResult(test::run_qsenti(
        "train --method embedding --model " + test::fixture("refs/tiny-qwen3") + " --train " + (*home_ / "train.tsv") +
            " --out " + (*home_ / "run") + " --epochs 3 --max-length 32 --no-cache --threads 1 --quiet --dtype fp32 < /dev/null",
        true));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete home_;
  }
  void SetUp() override { ASSERT_EQ(train_->exit_code, 0) << train_->output; }
  static TempDir* home_;
  static test::CommandResult* train_;
};
TempDir* ServeRealRun::home_ = nullptr;
test::CommandResult* ServeRealRun::train_ = nullptr;

TEST_F(ServeRealRun, AnswersEqualQsentiPredictAlsoUnderConcurrentClients) {
  const std::vector<std::string> texts{"今天天气真好", "太失望了，再也不来了", "还行吧", "服务态度很差劲，等了一个小时",
                                       "开心！"};
  std::string args = "predict --run " + (*home_ / "run") + " --json --quiet";
  for (const auto& t : texts) args += " --text '" + t + "'";
  auto ref = test::run_qsenti(args + " 2>/dev/null");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  std::vector<json> rows;
  std::istringstream lines(ref.output);
  for (std::string l; std::getline(lines, l);)
    if (!l.empty()) rows.push_back(json::parse(l));
  ASSERT_EQ(rows.size(), texts.size()) << ref.output;

  serve::ServeOptions o;
  o.runs = {{"tiny", *home_ / "run"}};
  o.predict.dtype = "fp32";
  RunningServer s(o);
  auto check = [&](const json& answer, size_t i) {
    int matched = 0;
    for (const auto& e : answer) {
      const double want = rows[i]["probabilities"][e["label"].get<std::string>()].get<double>();
      EXPECT_NEAR(e["score"].get<double>(), want, 1e-5) << texts[i];
      ++matched;
    }
    EXPECT_EQ(matched, 2);
    EXPECT_EQ(answer[0]["label"], rows[i]["label_name"]) << texts[i];
  };
  json batch = json::array();
  for (const auto& t : texts) batch.push_back(json::array({t}));
  json all = body_of(s.post("/predict", json{{"inputs", batch}}.dump()));
  ASSERT_EQ(all.size(), texts.size()) << all;
  for (size_t i = 0; i < texts.size(); ++i) check(all[i], i);
  // 8 clients at once, each text alone: batched together by the server, same answers.
  std::vector<std::thread> clients;
  std::vector<json> got(texts.size() * 8);
  for (size_t c = 0; c < got.size(); ++c)
    clients.emplace_back([&, c] {
      auto r = s.post("/predict", json{{"inputs", texts[c % texts.size()]}}.dump());
      if (r && r->status == 200) got[c] = json::parse(r->body);
    });
  for (auto& t : clients) t.join();
  for (size_t c = 0; c < got.size(); ++c) {
    ASSERT_TRUE(got[c].is_array()) << "client " << c << " failed";
    check(got[c], c % texts.size());
  }
}

TEST_F(ServeRealRun, BinaryServesAndStopsCleanlyOnSigterm) {
  // The real command: start, answer one request, SIGTERM, exit 0.
  const std::string log = *home_ / "serve.log";
  const std::string cmd = std::string(qsenti::test::binary()) + " serve --run " + (*home_ / "run") +
                          " --port 0 --threads 1 >/dev/null 2>" + log + " & echo $!";
  auto started = test::run_shell(cmd);
  const int pid = std::stoi(started.output);
  int port = 0;
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto at = text.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(text.c_str() + at + 30);
  }
  ASSERT_GT(port, 0) << "the server did not start";
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/predict", R"({"inputs": "今天天气真好"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // Wait for the process via a shell so we see its exit status.
  auto stopped = test::run_shell("kill -TERM " + std::to_string(pid) + "; while kill -0 " + std::to_string(pid) +
                                 " 2>/dev/null; do sleep 0.1; done; grep -c stopped " + log);
  EXPECT_EQ(stopped.output, "1\n") << "no clean stop logged";
}

}  // namespace
}  // namespace qsenti
