// The HTTP request bodies of `qsenti serve` (serve/request_parse): the JSON
// and UTF-8 check, then each route's fields. The first input byte picks the
// route and the server's --max-client-batch-size; the rest is the body.
// Expected for bad input: serve::ApiError (what the server answers 4xx with).
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "serve/api_error.h"
#include "serve/request_parse.h"

namespace serve = qsenti::serve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int route = data[0] % 6;
  const int64_t max_batch = (data[0] >> 4) == 0 ? 1 : 32;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    // parse_body refuses every malformed body with ApiError (422), also a
    // number beyond a double ("[1e999]", once a json::out_of_range).
    const nlohmann::json j = serve::parse_body(body);
    if (route == 5) {
      const auto r = serve::parse_decode(j, max_batch);
      FUZZ_CHECK(!r.ids.empty() && static_cast<int64_t>(r.ids.size()) <= max_batch);
      return 0;
    }
    serve::TextsRequest r;
    switch (route) {
      case 0: r = serve::parse_predict(j, max_batch); break;
      case 1: r = serve::parse_classify(j, max_batch); break;
      case 2: r = serve::parse_tokenize(j, max_batch); break;
      case 3: r = serve::parse_embed(j, max_batch); break;
      default: r = serve::parse_openai_embeddings(j, max_batch); break;
    }
    // Accepted requests hold 1..max_batch texts (the batch queue relies on it).
    FUZZ_CHECK(!r.texts.empty() && static_cast<int64_t>(r.texts.size()) <= max_batch);
    (void)r;
  } catch (const serve::ApiError& e) {
    (void)e.body();
  }
  return 0;
}
