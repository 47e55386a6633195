#pragma once
// What `qsenti serve` is started with: the runs it serves and the limits of
// the service (names follow text-embeddings-inference's router options).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "methods/classifier.h"

namespace qsenti::serve {

struct ServedRunSpec {
  std::string name;  // what requests put in "model"; the folder name by default
  std::string dir;
};

struct ServeOptions {
  std::vector<ServedRunSpec> runs;   // the first one answers requests without "model"
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0 = any free port (tests)
  std::string api_key;               // "" = no key needed
  int64_t max_batch_tokens = 16384;  // padded tokens per forward at most
  int64_t max_batch_requests = 0;    // inputs per forward at most; 0 = only the token budget
  int64_t max_concurrent_requests = 512;  // inputs admitted at once; beyond: 429
  int64_t max_client_batch_size = 32;     // inputs per request at most; beyond: 413
  int64_t max_input_length = 0;      // tokens per input; 0 = what the run was trained with
  bool auto_truncate = false;        // truncate long inputs instead of answering 422
  int64_t payload_limit = 2000000;   // request body bytes at most; beyond: 413
  double batch_wait_ms = 1.0;        // how long a batch waits for company while traffic flows
  int http_threads = 0;              // connection threads; 0 = max_concurrent_requests capped at 256
  PredictOptions predict;            // dtype etc. for loading the runs
  // Opens a run; load_classifier when empty (tests pass fakes).
  std::function<std::unique_ptr<TextClassifier>(const std::string&, const PredictOptions&)> loader;
};

}  // namespace qsenti::serve
