// Tokenizer::encode on arbitrary bytes with the bundled Qwen3 tokenizer:
// UTF-8 repair, NFC, the pre-tokeniser, BPE, added tokens. The header
// promises that no input throws, so any exception is a finding; every id
// must be in the vocabulary and decode must take them back.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "text/tokenizer.h"

namespace {
const qsenti::Tokenizer& tok() {
  // Loaded once per process (~1 s): the 10 MB file is not the input here.
  static const auto t = qsenti::Tokenizer::from_file(qsenti::Tokenizer::default_path());
  return *t;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tok();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto mode : {qsenti::SpecialTokens::kAsText, qsenti::SpecialTokens::kParse}) {
    const auto ids = tok().encode(text, mode);
    for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tok().vocab_size());
    const std::string back = tok().decode(ids);
    // decode(encode(x)) is NFC of the repaired x: encoding it again is stable.
    if (mode == qsenti::SpecialTokens::kAsText) FUZZ_CHECK(tok().decode(tok().encode(back, mode)) == back);
  }
  return 0;
}
