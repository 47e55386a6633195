#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "methods/classifier.h"
#include "serve/api_error.h"
#include "serve/batch_queue.h"
#include "serve/client_watch.h"
#include "serve/metrics.h"
#include "serve/request_parse.h"
#include "serve/web_page.h"
#include "text/byte_level.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace qsenti::serve {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The request the current HTTP thread is answering (set by route()), so that
// waiting for the model can notice its client leaving.
thread_local const httplib::Request* current_request = nullptr;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One served run: the model (owned by its queue's worker), its tokenizer for
// counting and truncating on the HTTP threads, and its limits.
struct ServedRun {
  std::string name, dir;
  RunManifest manifest;
  std::unique_ptr<TextClassifier> classifier;
  std::shared_ptr<const Tokenizer> tokenizer;
  int64_t max_input_length = 512;
  std::unique_ptr<BatchQueue> queue;
  // Method A runs also answer /embed through a queue of their own; the two
  // workers take turns on the one model.
  std::unique_ptr<BatchQueue> embed_queue;
  std::shared_ptr<std::mutex> model_mu = std::make_shared<std::mutex>();
};

// Standard base64 of bytes (OpenAI's encoding_format "base64": float32, little-endian).
std::string base64(const unsigned char* p, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t(p[i]) << 16) | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < n ? k[(v >> 6) & 63] : '=';
    out += i + 2 < n ? k[v & 63] : '=';
  }
  return out;
}

std::vector<float> floats_of(const torch::Tensor& row) {
  torch::Tensor t = row.to(torch::kFloat32).contiguous();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

// Non-blocking permits, one per input: overload answers 429 at once.
class Permits {
 public:
  explicit Permits(int64_t n) : free_(n) {}
  bool try_acquire(int64_t n) {
    int64_t cur = free_.load();
    while (cur >= n)
      if (free_.compare_exchange_weak(cur, cur - n)) return true;
    return false;
  }
  void release(int64_t n) { free_ += n; }

 private:
  std::atomic<int64_t> free_;
};

}  // namespace

struct Server::Impl {
  ServeOptions o;
  std::vector<std::unique_ptr<ServedRun>> runs;
  Metrics metrics;
  Permits permits;
  httplib::Server http;
  int port = 0;
  int listen_fd = -1;  // to widen the backlog after bind (see bind())
  // httplib's stop() only closes a socket whose accept loop has started; these
  // let a stop() that comes first (or meanwhile) still end listen().
  std::atomic<bool> listen_called{false}, listen_done{false}, stop_requested{false};

  explicit Impl(ServeOptions options) : o(std::move(options)), permits(o.max_concurrent_requests) {}

  void load_runs() {
    if (o.runs.empty()) throw Error("serve needs at least one --run", ExitCode::kUsage);
    PredictOptions po = o.predict;
    // The batcher forms the batches: let the classifier run each as one forward.
    po.batch_size = std::max<int64_t>(po.batch_size, o.max_batch_requests > 0 ? o.max_batch_requests : 4096);
    for (const auto& spec : o.runs) {
      auto r = std::make_unique<ServedRun>();
      r->name = spec.name.empty() ? std::filesystem::path(spec.dir).lexically_normal().filename().string() : spec.name;
      if (r->name.empty()) r->name = std::filesystem::path(spec.dir).lexically_normal().parent_path().filename().string();
      for (const auto& other : runs)
        if (other->name == r->name)
          throw Error("two runs are named '" + r->name + "'; name them with --run NAME=DIR", ExitCode::kUsage);
      r->dir = spec.dir;
      r->classifier = o.loader ? o.loader(spec.dir, po) : load_classifier(spec.dir, po);
      r->manifest = r->classifier->manifest();
      std::string tok_dir;
      try {
        tok_dir = run_base_model(spec.dir, r->manifest, po);
      } catch (const std::exception&) {
        tok_dir = spec.dir;
      }
      r->tokenizer = std::filesystem::is_directory(tok_dir) ? Tokenizer::for_model(tok_dir)
                                                            : Tokenizer::from_file(Tokenizer::default_path());
      const int64_t trained = r->manifest.extra.value("max_length", int64_t{512});
      r->max_input_length = o.max_input_length > 0 ? o.max_input_length : trained;
      TextClassifier* clf = r->classifier.get();
      BatchLimits limits{o.max_batch_tokens, o.max_batch_requests, o.batch_wait_ms};
      std::shared_ptr<std::mutex> mu = r->model_mu;
      r->queue = std::make_unique<BatchQueue>(
          r->name,
          [clf, mu](const std::vector<std::string>& t) {
            std::lock_guard<std::mutex> lock(*mu);
            return clf->predict_proba(t);
          },
          limits, &metrics);
      if (clf->can_embed())
        r->embed_queue = std::make_unique<BatchQueue>(
            r->name,
            [clf, mu](const std::vector<std::string>& t) {
              std::lock_guard<std::mutex> lock(*mu);
              return clf->embed(t);
            },
            limits, &metrics);
      runs.push_back(std::move(r));
    }
  }

  // The run /embed answers with: the one named, else the first that embeds.
  ServedRun& embedding_run(const std::string& name) {
    if (name.empty()) {
      for (auto& r : runs)
        if (r->embed_queue) return *r;
      throw ApiError(400, "Validation", "no served run gives embeddings (method A, embedding, runs do)");
    }
    ServedRun& r = run_named(name);
    if (!r.embed_queue)
      throw ApiError(400, "Validation", "'" + r.name + "' is a " + r.manifest.method +
                                            " run, not an embedding model (method A runs give embeddings)");
    return r;
  }

  ServedRun& run_named(const std::string& name) {
    if (name.empty()) return *runs.front();
    for (auto& r : runs)
      if (r->name == name) return *r;
    std::string known;
    for (auto& r : runs) known += (known.empty() ? "" : ", ") + r->name;
    throw ApiError::not_found("no model named '" + name + "' (served: " + known + ")");
  }

  // Counts tokens and applies truncation; 422 for inputs too long or empty.
  std::vector<QueuedInput> prepare(ServedRun& run, const TextsRequest& req, int64_t& total_tokens) {
    const bool truncate = req.truncate.value_or(o.auto_truncate);
    std::vector<QueuedInput> out;
    total_tokens = 0;
    for (size_t i = 0; i < req.texts.size(); ++i) {
      QueuedInput in;
      in.index = i;
      in.text = req.texts[i];
      std::vector<int32_t> ids = run.tokenizer->encode(in.text);
      if (ids.empty()) throw ApiError::validation("`inputs` cannot be empty (input " + std::to_string(i) + ")");
      const int64_t n = static_cast<int64_t>(ids.size());
      if (n > run.max_input_length) {
        if (!truncate)
          throw ApiError::validation("input " + std::to_string(i) + " is " + std::to_string(n) +
                                     " tokens, more than the maximum " + std::to_string(run.max_input_length) +
                                     "; send \"truncate\": true or start the server with --auto-truncate");
        if (req.truncate_left) {
          // Keep the end: the text of its last tokens.
          std::vector<int32_t> tail(ids.end() - run.max_input_length, ids.end());
          in.text = run.tokenizer->decode(tail);
        }
        // Right truncation is what the classifier does itself at its max length.
      }
      in.tokens = std::min(n, run.max_input_length);
      total_tokens += in.tokens;
      out.push_back(std::move(in));
    }
    return out;
  }

  // Runs the request's inputs through the run's queue; the probabilities.
  std::vector<torch::Tensor> classify(ServedRun& run, const TextsRequest& req, httplib::Response& res) {
    return run_inputs(run, *run.queue, req, res);
  }

  // Runs the request's inputs through one of the run's queues; a row each.
  std::vector<torch::Tensor> run_inputs(ServedRun& run, BatchQueue& queue, const TextsRequest& req,
                                        httplib::Response& res) {
    const auto t0 = Clock::now();
    int64_t tokens = 0;
    auto inputs = prepare(run, req, tokens);
    const double tokenization_s = seconds_since(t0);
    metrics.observe("te_request_input_length", static_cast<double>(tokens));
    metrics.observe("te_request_tokenization_duration", tokenization_s);
    const int64_t n = static_cast<int64_t>(inputs.size());
    if (!permits.try_acquire(n)) throw ApiError::overloaded();
    struct Release {
      Permits& p;
      int64_t n;
      ~Release() { p.release(n); }
    } release{permits, n};
    auto job = std::make_shared<Job>(inputs.size());
    const auto now = Clock::now();
    for (auto& in : inputs) {
      in.job = job;
      in.enqueued = now;
    }
    queue.submit(std::move(inputs));
    std::function<bool()> client_gone;
    std::shared_ptr<ClientWatch> watch;
    if (current_request) {
      watch = std::make_shared<ClientWatch>(current_request->remote_addr, current_request->remote_port,
                                            current_request->local_port);
      client_gone = [watch] { return watch->gone(); };
    }
    if (!job->wait(client_gone)) {
      if (job->abandoned()) {
        queue.drop_cancelled();
        // Nobody reads this answer; it names the case in the metrics (err="disconnected").
        throw ApiError(499, "Disconnected", "the client closed the connection before its answer");
      }
      throw ApiError::backend(job->error());
    }
    int64_t chars = 0;
    for (const auto& t : req.texts) chars += static_cast<int64_t>(t.size());
    auto ms = [](double s) { return std::to_string(static_cast<int64_t>(std::llround(s * 1000))); };
    res.set_header("x-compute-type", "cpu");
    res.set_header("x-compute-time", ms(seconds_since(t0)));
    res.set_header("x-compute-characters", std::to_string(chars));
    res.set_header("x-compute-tokens", std::to_string(tokens));
    res.set_header("x-total-time", ms(seconds_since(t0)));
    res.set_header("x-tokenization-time", ms(tokenization_s));
    res.set_header("x-queue-time", ms(job->queue_seconds()));
    res.set_header("x-inference-time", ms(job->inference_seconds()));
    return job->rows();
  }

  json predict_answer(ServedRun& run, const torch::Tensor& row, bool raw) {
    json list = json::array();
    std::vector<std::pair<double, std::string>> scored;
    for (int64_t k = 0; k < row.size(0); ++k) {
      const double p = row[k].item<double>();
      // Probabilities only come back from the classifiers: raw scores are
      // their logarithms (the logits up to a constant per input).
      scored.push_back({raw ? std::log(std::max(p, 1e-45)) : p, run.manifest.labels[static_cast<size_t>(k)]});
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [s, l] : scored) list.push_back({{"score", s}, {"label", l}});
    return list;
  }

  json info(ServedRun& run) {
    json id2label = json::object(), label2id = json::object();
    for (size_t k = 0; k < run.manifest.labels.size(); ++k) {
      id2label[std::to_string(k)] = run.manifest.labels[k];
      label2id[run.manifest.labels[k]] = k;
    }
    json models = json::array();
    for (auto& r : runs) models.push_back(r->name);
    return {{"model_id", run.name},
            {"model_sha", nullptr},
            {"model_dtype", run.manifest.extra.value("dtype", o.predict.dtype)},
            {"model_type", {{"classifier", {{"id2label", id2label}, {"label2id", label2id}}}}},
            {"method", run.manifest.method},
            {"base_model", run.manifest.base_model},
            {"models", models},
            {"max_concurrent_requests", o.max_concurrent_requests},
            {"max_input_length", run.max_input_length},
            {"max_batch_tokens", o.max_batch_tokens},
            {"max_batch_requests", o.max_batch_requests > 0 ? json(o.max_batch_requests) : json(nullptr)},
            {"max_client_batch_size", o.max_client_batch_size},
            {"auto_truncate", o.auto_truncate},
            {"tokenization_workers", o.http_threads},
            {"version", QSENTI_VERSION},
            {"sha", nullptr},
            {"docker_label", nullptr}};
  }

  // Wraps a route: API key, JSON parsing, errors in TEI's shape, metrics.
  using Handler = std::function<void(const json& body, httplib::Response&)>;
  httplib::Server::Handler route(const std::string& method, Handler h, bool counted = true) {
    return [this, method, h, counted](const httplib::Request& req, httplib::Response& res) {
      const auto t0 = Clock::now();
      struct Current {
        explicit Current(const httplib::Request& r) { current_request = &r; }
        ~Current() { current_request = nullptr; }
      } current(req);
      const std::string labels = "method=\"" + method + "\"";
      if (counted) metrics.inc("te_request_count", labels);
      try {
        if (!o.api_key.empty() && req.get_header_value("Authorization") != "Bearer " + o.api_key)
          throw ApiError::unauthorized();
        json body = req.method == "POST" ? parse_body(req.body) : json::object();
        h(body, res);
        if (counted) {
          metrics.inc("te_request_success", labels);
          metrics.observe("te_request_duration", seconds_since(t0), labels);
        }
      } catch (const ApiError& e) {
        fail(res, e, counted);
      } catch (const c10::Error& e) {
        fail(res, ApiError::backend(e.what_without_backtrace()), counted);
      } catch (const std::exception& e) {
        fail(res, ApiError::backend(e.what()), counted);
      }
    };
  }

  void fail(httplib::Response& res, const ApiError& e, bool counted) {
    std::string err = e.type();
    std::transform(err.begin(), err.end(), err.begin(), ::tolower);
    if (counted) metrics.inc("te_request_failure", "err=\"" + err + "\"");
    res.status = e.status();
    res.set_content(e.body(), "application/json");
  }

  // POST /predict (TEI).
  void answer_predict(const json& b, httplib::Response& res) {
    TextsRequest r = parse_predict(b, o.max_client_batch_size);
    ServedRun& run = run_named(r.model);
    json out = json::array();
    for (const auto& row : classify(run, r, res)) out.push_back(predict_answer(run, row, r.raw_scores));
    res.set_content(dump(r.batch ? out : out[0]), "application/json");
  }

  // POST /embed (TEI).
  void answer_embed(const json& b, httplib::Response& res) {
    TextsRequest r = parse_embed(b, o.max_client_batch_size);
    ServedRun& run = embedding_run(r.model);
    json out = json::array();
    for (const auto& row : run_inputs(run, *run.embed_queue, r, res)) out.push_back(floats_of(row));
    res.set_content(dump(out), "application/json");
  }

  void add_routes() {
    http.Post("/predict", route("predict", [this](const json& b, httplib::Response& res) { answer_predict(b, res); }));
    // TEI's generic route answers as its model's kind. A method-A run both
    // classifies and embeds, so the body decides: huggingface_hub's
    // InferenceClient(base_url=...) posts here, `parameters` with
    // text_classification (answered in the Inference API's shape, a list of
    // labels per input) and without it for feature_extraction.
    http.Post("/", route("compat", [this](const json& b, httplib::Response& res) {
      const std::string model = b.contains("model") && b["model"].is_string() ? b["model"].get<std::string>() : "";
      if (b.contains("parameters")) {
        TextsRequest r = parse_hf_text_classification(b, o.max_client_batch_size);
        ServedRun& run = run_named(r.model);
        json out = json::array();
        for (const auto& row : classify(run, r, res)) {
          json labels = predict_answer(run, row, r.raw_scores);
          if (r.top_k > 0 && static_cast<int64_t>(labels.size()) > r.top_k)
            labels.erase(labels.begin() + r.top_k, labels.end());
          out.push_back(labels);
        }
        res.set_content(dump(out), "application/json");
      } else if (run_named(model).embed_queue) {
        answer_embed(b, res);
      } else {
        answer_predict(b, res);
      }
    }));
    http.Post("/classify", route("classify", [this](const json& b, httplib::Response& res) {
      TextsRequest r = parse_classify(b, o.max_client_batch_size);
      ServedRun& run = run_named(r.model);
      auto rows = classify(run, r, res);
      json data = json::array();
      int64_t tokens = std::stoll(res.get_header_value("x-compute-tokens"));
      for (size_t i = 0; i < rows.size(); ++i) {
        std::vector<double> probs(static_cast<size_t>(rows[i].size(0)));
        for (size_t k = 0; k < probs.size(); ++k) probs[k] = rows[i][static_cast<int64_t>(k)].item<double>();
        const size_t best = static_cast<size_t>(rows[i].argmax().item<int64_t>());
        data.push_back({{"index", i}, {"label", run.manifest.labels[best]}, {"probs", probs},
                        {"num_classes", probs.size()}});
      }
      const auto created = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch()).count();
      res.set_content(dump({{"id", "classify-" + std::to_string(created)}, {"object", "list"}, {"created", created},
                            {"model", run.name}, {"data", data},
                            {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}),
                      "application/json");
    }));
    http.Post("/embed", route("embed", [this](const json& b, httplib::Response& res) { answer_embed(b, res); }));
    http.Post("/v1/embeddings", route("embeddings", [this](const json& b, httplib::Response& res) {
      TextsRequest r = parse_openai_embeddings(b, o.max_client_batch_size);
      ServedRun& run = embedding_run(r.model);
      auto rows = run_inputs(run, *run.embed_queue, r, res);
      json data = json::array();
      for (size_t i = 0; i < rows.size(); ++i) {
        std::vector<float> v = floats_of(rows[i]);
        json e = r.base64 ? json(base64(reinterpret_cast<const unsigned char*>(v.data()), v.size() * sizeof(float)))
                          : json(v);
        data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", e}});
      }
      const int64_t tokens = std::stoll(res.get_header_value("x-compute-tokens"));
      res.set_content(dump({{"object", "list"}, {"data", data}, {"model", run.name},
                            {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}),
                      "application/json");
    }));
    http.Post("/tokenize", route("tokenize", [this](const json& b, httplib::Response& res) {
      TextsRequest r = parse_tokenize(b, o.max_client_batch_size);
      ServedRun& run = run_named(r.model);
      json out = json::array();
      for (const auto& text : r.texts) {
        json toks = json::array();
        size_t offset = 0;  // byte offsets into the (NFC) text the ids spell
        for (int32_t id : run.tokenizer->encode(text)) {
          const bool special = run.tokenizer->is_special(id);
          const std::string raw = byte_level::decode(run.tokenizer->id_to_token(id));
          const std::string piece = special ? run.tokenizer->id_to_token(id) : raw;
          toks.push_back({{"id", id}, {"text", piece}, {"special", special}, {"start", offset},
                          {"stop", offset + piece.size()}});
          offset += piece.size();
        }
        out.push_back(toks);
      }
      res.set_content(dump(out), "application/json");
    }));
    http.Post("/decode", route("decode", [this](const json& b, httplib::Response& res) {
      DecodeRequest r = parse_decode(b, o.max_client_batch_size);
      ServedRun& run = run_named(r.model);
      json out = json::array();
      for (const auto& ids : r.ids) out.push_back(run.tokenizer->decode(ids, r.skip_special_tokens));
      res.set_content(dump(r.batch ? out : out[0]), "application/json");
    }));
    http.Get("/info", route("info", [this](const json&, httplib::Response& res) {
      // GET /info?model=NAME for another run than the first (the web page asks so).
      const std::string name = current_request ? current_request->get_param_value("model") : "";
      res.set_content(dump(info(run_named(name))), "application/json");
    }, false));
    http.Get("/v1/models", route("models", [this](const json&, httplib::Response& res) {
      json data = json::array();
      for (auto& r : runs)
        data.push_back({{"id", r->name}, {"object", "model"}, {"created", 0}, {"owned_by", "qsenti"},
                        {"method", r->manifest.method}, {"labels", r->manifest.labels}});
      res.set_content(dump({{"object", "list"}, {"data", data}}), "application/json");
    }, false));
    // The page is static and open; the API calls it makes carry the key.
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(web_page_html(), "text/html; charset=utf-8");
    });
    // Health and metrics answer without the key, as load balancers and scrapers expect.
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(), "text/plain; version=0.0.4");
    });
    // httplib's own refusals (body over the limit, unknown route) in TEI's shape.
    http.set_error_handler(httplib::Server::Handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      ApiError e = res.status == 413   ? ApiError::too_large("request body over the payload limit")
                   : res.status == 404 ? ApiError::not_found("no route " + req.method + " " + req.path)
                                       : ApiError(res.status, "Validation", "bad request");
      res.set_content(e.body(), "application/json");
    }));
  }
};

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->load_runs();
  Impl* im = impl_.get();
  const int threads = im->o.http_threads > 0 ? im->o.http_threads
                                             : static_cast<int>(std::clamp<int64_t>(im->o.max_concurrent_requests, 8, 256));
  im->o.http_threads = threads;
  im->http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  im->http.set_payload_max_length(static_cast<size_t>(im->o.payload_limit));
  im->http.set_read_timeout(30, 0);  // slow clients do not hold a thread for ever
  im->http.set_write_timeout(30, 0);
  // httplib closes a kept-alive connection after 5 requests by default, which
  // races with clients already sending the next one.
  im->http.set_keep_alive_max_count(100000);
  // httplib writes a response's headers and body in separate sends: with
  // Nagle's algorithm on, a client's delayed ACK held every answer back
  // ~40 ms (measured: a lone request on the tiny model took 88 ms for a
  // 0.5 ms forward).
  im->http.set_tcp_nodelay(true);
  im->http.set_socket_options([im](socket_t sock) {
    httplib::default_socket_options(sock);
    im->listen_fd = sock;
  });
  im->add_routes();
}

Server::~Server() {
  stop();
  for (auto& r : impl_->runs) {  // drain and join the workers
    r->queue.reset();
    r->embed_queue.reset();
  }
}

int Server::bind() {
  Impl& im = *impl_;
  if (im.o.port == 0) {
    im.port = im.http.bind_to_any_port(im.o.host);
  } else {
    im.port = im.http.bind_to_port(im.o.host, im.o.port) ? im.o.port : -1;
  }
  // Debian's cpp-httplib 0.11 listens with a backlog of 5: many clients
  // connecting at once overflow it and get reset. Listening again on the same
  // socket only updates its backlog (Linux).
  if (im.port >= 0 && im.listen_fd >= 0) ::listen(im.listen_fd, SOMAXCONN);
  if (im.port < 0)
    throw Error("cannot listen on " + im.o.host + ":" + std::to_string(im.o.port) + " (in use, or not an address here)");
  return im.port;
}

void Server::listen() {
  Impl& im = *impl_;
  im.listen_called = true;
  if (!im.stop_requested) im.http.listen_after_bind();
  im.listen_done = true;
}

void Server::stop() {
  Impl& im = *impl_;
  im.stop_requested = true;
  // A listen() under way but not yet accepting: wait for its loop (bounded).
  if (im.listen_called)
    for (int i = 0; i < 5000 && !im.http.is_running() && !im.listen_done; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (im.http.is_running()) im.http.stop();
}

Metrics& Server::metrics() { return impl_->metrics; }

}  // namespace qsenti::serve
