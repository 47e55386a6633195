// `qsenti serve` under load: many HTTP clients at once against the same run
// the bare classifier answers in the same process, so the cost of the service
// (HTTP, JSON, queueing, dynamic batching) is a ratio, not a machine's speed.
//   bench_serve --run RUN [--clients 64] [--seconds 60] [--texts-per-request 1]
//               [--threads 2] [--max-batch-tokens 16384] [--batch-wait-ms 1] [--json]
// RUN is any run serve opens (a qsenti run, or `qsenti init --num-labels 2`).
// 1. bare: predict_proba on batches of 32 Weibo texts for a few seconds, and
//    one short text alone, 30 times;
// 2. served: the clients post /predict in a loop for --seconds;
// 3. lone: one client posts the short text 30 times on the idle service;
// prints requests/s, texts/s, latency percentiles, errors, the batch sizes
// the batcher formed, texts/s as a share of the bare classifier's, and the
// lone request's median latency as a multiple of one bare forward of it.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench_common.h"
#include "methods/classifier.h"
#include "serve/metrics.h"
#include "serve/server.h"
#include "util/runtime.h"

using namespace qsenti;
using nlohmann::json;

namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::min<double>(static_cast<double>(v.size() - 1), q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string run;
  int clients = 64, per_request = 1, threads = 2;
  double seconds = 60, batch_wait_ms = 1;
  int64_t max_batch_tokens = 16384;
  bool as_json = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--json") {
      as_json = true;
      continue;
    }
    if (i + 1 >= argc) break;
    std::string v = argv[++i];
    if (k == "--run") run = v;
    else if (k == "--clients") clients = std::stoi(v);
    else if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--texts-per-request") per_request = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--max-batch-tokens") max_batch_tokens = std::stoll(v);
    else if (k == "--batch-wait-ms") batch_wait_ms = std::stod(v);
  }
  if (run.empty()) {
    std::cerr << "usage: bench_serve --run RUN [--clients 64] [--seconds 60] [--texts-per-request 1] [--threads 2]\n";
    return 2;
  }
  init_runtime(threads);
  const std::vector<std::string> texts = bench::weibo_texts(2000);

  // 1. The bare classifier, batches of 32, for a fifth of the served time (at least 5 s).
  double bare_tps = 0, bare_short_ms = 0;
  const std::string short_text = "开心！";
  {
    PredictOptions po;
    po.batch_size = 32;
    auto clf = load_classifier(run, po);
    clf->predict_proba({texts[0], texts[1]});  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    size_t done = 0, at = 0;
    while (bench::seconds_since(t0) < std::max(5.0, seconds / 5)) {
      std::vector<std::string> batch;
      for (int i = 0; i < 32; ++i) batch.push_back(texts[at++ % texts.size()]);
      clf->predict_proba(batch);
      done += batch.size();
    }
    bare_tps = static_cast<double>(done) / bench::seconds_since(t0);
    std::vector<double> ms;
    for (int i = 0; i < 30; ++i) {
      const auto s = std::chrono::steady_clock::now();
      clf->predict_proba({short_text});
      ms.push_back(bench::seconds_since(s) * 1000);
    }
    bare_short_ms = percentile(ms, 0.5);
  }

  // 2. The service, in this process, on a free port.
  serve::ServeOptions o;
  o.runs = {{"bench", run}};
  o.port = 0;
  o.max_batch_tokens = max_batch_tokens;
  o.batch_wait_ms = batch_wait_ms;
  o.max_concurrent_requests = std::max<int64_t>(512, static_cast<int64_t>(clients) * per_request);
  o.auto_truncate = true;
  serve::Server server(o);
  const int port = server.bind();
  std::thread listener([&] { server.listen(); });

  std::atomic<bool> stop{false};
  std::atomic<int64_t> requests{0}, failures{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::vector<std::thread> pool;
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);  // as Python's clients do in effect (one send per request)
      cli.set_read_timeout(120, 0);
      std::vector<double> mine;
      size_t at = static_cast<size_t>(c) * 31;
      while (!stop.load()) {
        json inputs = json::array();
        for (int i = 0; i < per_request; ++i) inputs.push_back(json::array({texts[at++ % texts.size()]}));
        const std::string body = json{{"inputs", inputs}}.dump();
        const auto s = std::chrono::steady_clock::now();
        auto res = cli.Post("/predict", body, "application/json");
        const double ms = bench::seconds_since(s) * 1000;
        if (res && res->status == 200) {
          mine.push_back(ms);
          ++requests;
        } else {
          ++failures;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double elapsed = bench::seconds_since(t0);
  // The batch sizes formed under load (te_batch_size's cumulative buckets).
  json batch_sizes = json::object();
  {
    std::istringstream metrics(server.metrics().render());
    std::string line;
    const std::string key = "te_batch_size_bucket{le=\"";
    while (std::getline(metrics, line))
      if (line.rfind(key, 0) == 0) {
        const auto end = line.find('"', key.size());
        batch_sizes["<=" + line.substr(key.size(), end - key.size())] = std::stod(line.substr(line.rfind(' ') + 1));
      }
  }

  // 3. A lone short request on the idle service.
  std::vector<double> lone_ms;
  {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    httplib::Client cli("127.0.0.1", port);
    cli.set_keep_alive(true);
    cli.set_tcp_nodelay(true);
    const std::string body = json{{"inputs", short_text}}.dump();
    for (int i = 0; i < 30; ++i) {
      const auto s = std::chrono::steady_clock::now();
      auto res = cli.Post("/predict", body, "application/json");
      if (res && res->status == 200) lone_ms.push_back(bench::seconds_since(s) * 1000);
      else ++failures;
    }
  }
  server.stop();
  listener.join();

  const double rps = static_cast<double>(requests.load()) / elapsed;
  const double tps = rps * per_request;
  json out = {{"run", run},
              {"clients", clients},
              {"texts_per_request", per_request},
              {"seconds", elapsed},
              {"threads", threads},
              {"requests", requests.load()},
              {"failures", failures.load()},
              {"requests_per_s", rps},
              {"texts_per_s", tps},
              {"bare_texts_per_s", bare_tps},
              {"served_share_of_bare", bare_tps > 0 ? tps / bare_tps : 0},
              {"latency_ms", {{"p50", percentile(latencies_ms, 0.50)},
                              {"p95", percentile(latencies_ms, 0.95)},
                              {"p99", percentile(latencies_ms, 0.99)}}},
              {"batch_size_cumulative", batch_sizes},
              {"lone_short_request_ms_p50", percentile(lone_ms, 0.5)},
              {"bare_short_forward_ms_p50", bare_short_ms},
              {"lone_over_forward", bare_short_ms > 0 ? percentile(lone_ms, 0.5) / bare_short_ms : 0},
              {"peak_rss_bytes", bench::peak_rss_bytes()}};
  if (as_json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("served %d clients x %d text(s)/request for %.1f s: %.1f requests/s, %.1f texts/s, %lld failures\n",
                clients, per_request, elapsed, rps, tps, static_cast<long long>(failures.load()));
    std::printf("latency ms: p50 %.1f  p95 %.1f  p99 %.1f\n", percentile(latencies_ms, 0.5),
                percentile(latencies_ms, 0.95), percentile(latencies_ms, 0.99));
    std::printf("bare classifier (batches of 32, same process): %.1f texts/s; served = %.2fx of it\n", bare_tps,
                bare_tps > 0 ? tps / bare_tps : 0.0);
    std::printf("batch sizes (cumulative): %s\n", batch_sizes.dump().c_str());
    std::printf("lone short request: p50 %.2f ms = %.2fx one bare forward of it (%.2f ms)\n", percentile(lone_ms, 0.5),
                bare_short_ms > 0 ? percentile(lone_ms, 0.5) / bare_short_ms : 0.0, bare_short_ms);
    std::printf("peak RSS %.0f MiB\n", static_cast<double>(bench::peak_rss_bytes()) / (1 << 20));
  }
  return failures.load() == 0 ? 0 : 1;
}
