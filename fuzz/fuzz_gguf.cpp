// GGUF (export/gguf_reader): magic, version, the metadata key/values (arrays
// included), the tensor table, then each tensor decoded (F32, F16, BF16,
// Q8_0) when it is small.
// Expected for bad input: qsenti::InputError.
#include <cstdio>
#include <cstdlib>

#include "export/gguf_reader.h"
#include "fuzz_common.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsenti_fuzz::write_input("model.gguf", data, size);
  try {
    qsenti::GgufFile f(path);
    // GGUF strings are bytes: not necessarily UTF-8, so dumped with replacement
    // (the reader keeps them as they are; nothing in qsenti dumps them).
    for (const auto& key : f.keys_in_order())
      (void)f.at(key).value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto& t : f.tensors()) {
      // The reader checked that every tensor lies inside the file, so
      // decoding one reads at most the file's size.
      (void)f.tensor(t.name);
    }
  } catch (const qsenti::InputError&) {
  }
  return 0;
}
