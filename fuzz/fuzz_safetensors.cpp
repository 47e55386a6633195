// safetensors: the 8-byte header length, the JSON header and the tensor
// table, then every tensor viewed (the zero-copy path and the misaligned copy).
// Expected for bad input: qsenti::InputError. Anything else is a finding.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "io/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsenti_fuzz::write_input("model.safetensors", data, size);
  try {
    qsenti::SafetensorsFile f(path);
    for (const auto& [name, e] : f.entries()) {
      // Every entry the reader accepted must fit the data it claims.
      FUZZ_CHECK(e.end >= e.begin && e.end - e.begin == static_cast<uint64_t>(e.numel()) * qsenti::dtype_size(e.dtype));
      torch::Tensor t = f.tensor(name);
      FUZZ_CHECK(static_cast<uint64_t>(t.numel()) * t.element_size() == e.end - e.begin);
      if (t.numel() > 0) {
        // Touch the first and last bytes: a view past the mapping faults here.
        const auto* p = static_cast<const volatile uint8_t*>(t.data_ptr());
        (void)p[0];
        (void)p[e.end - e.begin - 1];
      }
    }
  } catch (const qsenti::InputError&) {
  }
  return 0;
}
