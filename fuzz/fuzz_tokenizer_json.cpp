// tokenizer.json loading: read_tokenizer_json's checks and the tables
// Tokenizer builds from them; a file that loads then encodes and decodes a
// few texts (bad tables surface there).
// Expected for bad input: qsenti::InputError.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "text/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = qsenti_fuzz::write_input("tokenizer.json", data, size);
  std::shared_ptr<const qsenti::Tokenizer> tok;
  try {
    tok = qsenti::Tokenizer::from_file(path);
  } catch (const qsenti::InputError&) {
    return 0;
  }
  for (const char* text : {"hello world", "<|im_end|> 你好\r\n  x", "\xff\xfe"}) {
    for (auto mode : {qsenti::SpecialTokens::kAsText, qsenti::SpecialTokens::kParse}) {
      const auto ids = tok->encode(text, mode);
      for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tok->vocab_size());
      (void)tok->decode(ids, /*skip_special=*/false);
      (void)tok->decode(ids, /*skip_special=*/true);
    }
  }
  for (int32_t id : {-1, 0, 255, 256, 1 << 30}) (void)tok->id_to_token(id);
  return 0;
}
