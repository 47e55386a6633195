#pragma once
// Qwen3's tokenizer, exact to the token: reads Hugging Face's tokenizer.json
// and gives the same ids as `tokenizers` (encoding without added special
// tokens: nothing is prepended or appended). NFC normalisation, the Qwen3
// pre-tokeniser regex, byte-level BPE, and the added tokens (<|endoftext|>,
// <|im_start|>, <|im_end|>, <think>, ...).
//
// A Tokenizer is immutable after loading: share one between threads freely.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qsenti {

// What to do with the text of an added token (e.g. "<|im_end|>") met in the
// input.
enum class SpecialTokens {
  kAsText,  // ordinary text, split into ordinary tokens: for user data, so a
            // post cannot forge a control token
  kParse,   // one id, as Hugging Face does by default: for prompts we build
};

class Tokenizer {
 public:
  // Loads a tokenizer.json. Throws InputError naming the file and the problem
  // when it is missing, malformed, or describes a tokenizer this class does
  // not reproduce exactly.
  static std::shared_ptr<const Tokenizer> from_file(const std::string& path);
  // `model_dir`/tokenizer.json when present, else the bundled default (all
  // Qwen3 sizes share one tokenizer). Throws InputError when `model_dir` is
  // not a directory.
  static std::shared_ptr<const Tokenizer> for_model(const std::string& model_dir);
  // The bundled Qwen3 tokenizer.json: the source tree's assets/ (path fixed at
  // build time), else $QSENTI_HOME/assets/, else assets/ beside the
  // executable. Throws InputError listing the places tried.
  static std::string default_path();

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Ids of `text`. Bytes that are not valid UTF-8 are first replaced by
  // U+FFFD (see sanitize_utf8); no input makes it throw, short of a single
  // text over 2 GiB (ICU's limit for normalisation).
  std::vector<int32_t> encode(std::string_view text,
                              SpecialTokens mode = SpecialTokens::kAsText) const;
  // Appends the ids of `text` to `out` (no allocation once `out` is large).
  void encode_into(std::string_view text, SpecialTokens mode, std::vector<int32_t>& out) const;
  // encode() of each text, in parallel on LibTorch's intra-op threads. With
  // max_len >= 0, each result keeps its first max_len ids.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                 SpecialTokens mode = SpecialTokens::kAsText,
                                                 int64_t max_len = -1) const;

  // Text of `ids`; bytes that do not form valid UTF-8 (a sequence cut in the
  // middle of a character) become U+FFFD. Ids outside the vocabulary are
  // skipped, as Hugging Face does; with skip_special, so are special added
  // tokens (<|im_end|> etc., not <think> or <tool_call>, which are not
  // special). decode(encode(x)) == NFC(x) for every x.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // Id of a vocabulary entry in its byte-level spelling ("Ġworld") or of an
  // added token ("<|im_end|>"); -1 if unknown.
  int32_t token_to_id(std::string_view token) const;
  // Inverse of token_to_id; "" for an unknown id.
  std::string id_to_token(int32_t id) const;
  // True for added tokens marked special in tokenizer.json.
  bool is_special(int32_t id) const;

  // One more than the largest id (151669 for Qwen3; the model's embedding
  // table is larger).
  int64_t vocab_size() const;
  int32_t endoftext_id() const;  // <|endoftext|>, 151643; -1 if absent
  int32_t im_start_id() const;   // <|im_start|>, 151644; -1 if absent
  int32_t im_end_id() const;     // <|im_end|>, 151645; -1 if absent
  const std::string& path() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qsenti
