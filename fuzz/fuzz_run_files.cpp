// The JSON files of a run folder: a peft adapter_config.json
// (AdapterConfig::load), manifest.json (RunManifest::load) and
// train_options.json (saved_train_options). The first input byte picks the
// file; the rest is its content.
// Expected for bad input: qsenti::InputError.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "methods/run_manifest.h"
#include "model/peft_adapter.h"
#include "train/train_options.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int which = data[0] % 3;
  static const char* kNames[] = {"adapter_config.json", "manifest.json", "train_options.json"};
  qsenti_fuzz::write_input(kNames[which], data + 1, size - 1);
  const std::string& dir = qsenti_fuzz::scratch_dir();
  try {
    switch (which) {
      case 0: {
        const auto c = qsenti::AdapterConfig::load(dir);
        FUZZ_CHECK(c.lora.r > 0);
        break;
      }
      case 1: {
        const auto m = qsenti::RunManifest::load(dir);
        FUZZ_CHECK(m.labels.size() >= 2);
        (void)m.to_json().dump();
        break;
      }
      case 2: {
        const auto o = qsenti::saved_train_options(dir);
        // Saved again, it must read back.
        (void)qsenti::train_options_from_json(qsenti::train_options_to_json(o), "round trip");
        break;
      }
    }
  } catch (const qsenti::InputError&) {
  }
  return 0;
}
