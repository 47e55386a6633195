#pragma once
// Text → vector with a frozen Qwen3(-Embedding) model, the recipe of the
// Qwen3-Embedding model card:
//   ids = tokenize([ "Instruct: {task}\nQuery:" ] + text)   (user text as text:
//         a post cannot forge control tokens)
//   ids = first (max_length - 1) of them + <|endoftext|> (151643)
//   vector = L2-normalised final-norm hidden state of that last token.
// Texts are batched by length (sorted), so padding stays a few percent
// instead of the 512-token padding of the original Python scripts. Pooling
// uses the attention mask (last_token_index), so the padding side does not
// matter. The model is loaded only when a forward pass is needed: a run whose
// vectors all come from the cache never loads it.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "text/qwen3_tokens.h"
#include "model/qwen3.h"
#include "text/tokenizer.h"

namespace qsenti {

struct EmbedderOptions {
  std::string instruction;     // task text; "" = embed the bare text
  int64_t max_length = 256;    // tokens per text including the appended <|endoftext|>; <= 0 = no limit
  std::string dtype = "auto";  // auto (bf16 for hidden >= 1024, else fp32) | fp32 | bf16
  std::string device = "auto";  // auto | cpu | cuda | cuda:N (device/device.h)
  int64_t batch_size = 16;     // texts per forward pass at most
  double max_padding = 0.05;   // pad tokens per real token allowed in a batch (see length_grouped_batches)
  bool progress = true;        // progress line on stderr
  std::string progress_label = "embedding";
};

// The prefix the model card puts before a query: "Instruct: {task}\nQuery:".
std::string instruction_prefix(const std::string& task);

// "fp32" or "bf16" for `dtype` ("auto", "fp32", "bf16") and a model of
// `hidden_size`; throws Error on anything else.
std::string resolve_embedding_dtype(const std::string& dtype, int64_t hidden_size);

struct EmbedStats {
  int64_t texts = 0;
  int64_t real_tokens = 0;
  int64_t padded_tokens = 0;  // pad positions computed on top of the real tokens
  int64_t forward_passes = 0;
  double seconds = 0;
  double padding_overhead() const { return real_tokens ? double(padded_tokens) / double(real_tokens) : 0.0; }
};

class Embedder {
 public:
  // Lazily loads `model_dir` (config and tokenizer now, weights on first use).
  Embedder(const std::string& model_dir, EmbedderOptions options);
  // An already loaded model (tests); `tokenizer` may be null if only
  // embed_ids is used.
  Embedder(Qwen3 model, std::shared_ptr<const Tokenizer> tokenizer, EmbedderOptions options);

  int64_t dim() const { return hidden_size_; }
  const std::string& dtype_name() const { return dtype_name_; }  // "fp32" | "bf16"
  const EmbedderOptions& options() const { return options_; }
  const std::string& model_dir() const { return model_dir_; }
  bool model_loaded() const { return static_cast<bool>(model_); }

  // What identifies these vectors: the model's fingerprint and every pooling
  // setting. Texts embedded under equal identities get equal vectors.
  std::string identity() const;
  const std::string& model_fingerprint() const;

  // The token ids one text is embedded from (prefix, truncation, <|endoftext|>).
  std::vector<int32_t> token_ids(const std::string& text) const;
  // The same for many texts, tokenised in parallel.
  std::vector<std::vector<int32_t>> token_ids(const std::vector<std::string>& texts) const;
  // How many of `texts` token_ids() cuts to max_length (tokenises them: cached
  // vectors skip token_ids, and the count must not depend on the cache).
  int64_t count_truncated(const std::vector<std::string>& texts) const;

  // Vectors [N, dim] (fp32, unit length) of complete token sequences, used as
  // given. `sink`, when set, receives each batch as soon as it is computed
  // (indices into `seqs` and their rows), for caching as we go.
  using BatchSink = std::function<void(const std::vector<size_t>& indices, const torch::Tensor& vectors)>;
  torch::Tensor embed_ids(const std::vector<std::vector<int32_t>>& seqs, const BatchSink& sink = nullptr);
  // token_ids() of each text, then embed_ids().
  torch::Tensor embed(const std::vector<std::string>& texts, const BatchSink& sink = nullptr);

  // Totals over every call so far.
  const EmbedStats& stats() const { return stats_; }

 private:
  void ensure_model();
  const Tokenizer& tokenizer() const;
  std::vector<std::vector<int32_t>> encode_texts(const std::vector<std::string>& texts, int64_t max_len = -1) const;

  std::string model_dir_;
  EmbedderOptions options_;
  Qwen3 model_{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer_;
  int64_t hidden_size_ = 0;
  std::string dtype_name_;
  mutable std::string fingerprint_;
  int32_t endoftext_id_ = kQwen3EndOfTextId;
  EmbedStats stats_;
};

}  // namespace qsenti
