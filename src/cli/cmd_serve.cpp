// qsenti serve: trained runs behind a text-embeddings-inference-compatible
// HTTP API with dynamic batching. The service is in src/serve/.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_source.h"
#include "serve/server.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/runtime.h"

namespace qsenti::cli {

void add_serve_command(CLI::App& app) {
  struct Opts {
    serve::ServeOptions s;
    std::vector<std::string> runs;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  serve::ServeOptions& s = o->s;
  auto* cmd = app.add_subcommand("serve", "Serve runs over HTTP (text-embeddings-inference-compatible API, dynamic batching)");
  cmd->add_option("--run", o->runs, "run to serve, RUN or NAME=RUN (repeatable; the first answers requests without \"model\")")
      ->required();
  cmd->add_option("--host", s.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", s.port, "port to listen on (0 = any free one, printed)")->capture_default_str();
  cmd->add_option("--api-key", s.api_key, "require `Authorization: Bearer KEY` (GET /health and /metrics stay open)");
  cmd->add_option("--max-batch-tokens", s.max_batch_tokens, "padded tokens per forward at most")->capture_default_str();
  cmd->add_option("--max-batch-requests", s.max_batch_requests, "inputs per forward at most (0 = only the token budget)")
      ->capture_default_str();
  cmd->add_option("--max-concurrent-requests", s.max_concurrent_requests,
                  "inputs admitted at once; more are answered 429 Overloaded at once")->capture_default_str();
  cmd->add_option("--max-client-batch-size", s.max_client_batch_size, "inputs per request at most (more: 413)")
      ->capture_default_str();
  cmd->add_option("--max-input-length", s.max_input_length, "tokens per input at most (0 = as the run was trained)")
      ->capture_default_str();
  cmd->add_flag("--auto-truncate", s.auto_truncate, "truncate long inputs instead of answering 422");
  cmd->add_option("--payload-limit", s.payload_limit, "request body bytes at most (more: 413)")->capture_default_str();
  cmd->add_option("--batch-wait-ms", s.batch_wait_ms, "how long a small batch waits for company while traffic flows")
      ->capture_default_str();
  cmd->add_option("--http-threads", s.http_threads, "connection threads (0 = max-concurrent-requests, 8..256)")
      ->capture_default_str();
  add_dtype_option(cmd, s.predict.dtype, "auto (as trained), fp32 or bf16");
  add_device_option(cmd, s.predict.device);  // each run's worker thread runs its model there
  add_hf_run_options(cmd, s.predict);
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->footer(
      "Routes: POST /predict /classify /embed /v1/embeddings /tokenize /decode; GET /info /health /metrics\n"
      "/v1/models, and GET / a web page to try the models in a browser (/embed: method A runs).\n"
      "Example:\n"
      "  qsenti serve --run models/classifier-0.6B --port 8080 &\n"
      "  curl -s localhost:8080/predict -H 'Content-Type: application/json' -d '{\"inputs\": \"今天天气真好\"}'\n"
      "SIGTERM or Ctrl-C stops accepting, finishes what is in flight and exits 0.");
  cmd->callback([o] {
    if (o->threads > 0) init_runtime(o->threads);
    serve::ServeOptions opts = o->s;
    if (!opts.predict.base_model.empty())
      opts.predict.base_model = resolve_model_source(opts.predict.base_model, std::cerr);
    for (const auto& r : o->runs) {
      const auto eq = r.find('=');
      if (eq != std::string::npos && eq > 0) opts.runs.push_back({r.substr(0, eq), r.substr(eq + 1)});
      else opts.runs.push_back({"", r});
    }
    serve::Server server(opts);
    const int port = server.bind();
    // SIGTERM/SIGINT only set a flag (all a handler may do); a watcher thread
    // then stops the server, which finishes the requests in flight.
    InterruptScope interrupt_scope;
    std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-answer is not our death
    std::cerr << "qsenti serve: listening on http://" << opts.host << ":" << port << "/" << std::endl;
    std::atomic<bool> done{false};
    std::thread watcher([&server, &done] {
      while (!interrupt_requested() && !done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      // stop() is a no-op until listen() has begun: repeat until it returns.
      while (!done) {
        server.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    server.listen();
    done = true;
    watcher.join();
    std::cerr << "qsenti serve: stopped" << std::endl;
  });
}

}  // namespace qsenti::cli
