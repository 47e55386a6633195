// config.json: Qwen3Config::load (JSON, then every field's type and range),
// and the round trip to_json -> from_json of what it accepted.
// Expected for bad input: qsenti::InputError.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "model/config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qsenti_fuzz::write_input("config.json", data, size);
  try {
    const auto c = qsenti::Qwen3Config::load(qsenti_fuzz::scratch_dir());
    (void)c.parameter_count(true);
    // What was accepted and written back must be accepted again.
    const auto again = qsenti::Qwen3Config::from_json(c.to_json(), "round trip");
    FUZZ_CHECK(again.hidden_size == c.hidden_size && again.head_dim == c.head_dim);
  } catch (const qsenti::InputError&) {
  }
  return 0;
}
