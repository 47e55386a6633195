#pragma once
// Reads a Hugging Face tokenizer.json into plain tables, checking that it
// describes a tokenizer this code reproduces exactly (byte-level BPE with the
// Qwen3 pre-tokeniser, NFC or no normaliser); anything else is refused with an
// InputError that names the file and the unsupported setting.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qsenti {

struct TokenizerFile {
  struct AddedToken {
    int32_t id;
    std::string content;
    bool special;
  };
  // (byte-level token, id), in file order.
  std::vector<std::pair<std::string, int32_t>> vocab;
  // (left, right) byte-level tokens, in rank order.
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<AddedToken> added_tokens;
  bool nfc = true;             // normaliser NFC (else none)
  bool ignore_merges = false;  // a whole pre-token found in the vocabulary is one id
};

TokenizerFile read_tokenizer_json(const std::string& path);

}  // namespace qsenti
