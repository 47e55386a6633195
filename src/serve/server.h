#pragma once
// `qsenti serve`: the runs behind a text-embeddings-inference-compatible HTTP
// API (cpp-httplib). Routes: POST /predict /classify /tokenize /decode,
// GET /info /health /metrics /v1/models. Each run has its own BatchQueue
// (one worker thread owns its model); HTTP threads parse, validate and count
// tokens, take non-blocking permits (429 at once when full) and wait.
#include <memory>

#include "serve/serve_options.h"

namespace qsenti::serve {

class Metrics;

class Server {
 public:
  explicit Server(ServeOptions options);  // loads every run; InputError naming a bad one
  ~Server();
  int bind();    // binds host:port (port 0: a free one); returns the port
  void listen(); // serves until stop(); what is in flight finishes first
  void stop();   // safe from any thread
  Metrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qsenti::serve
