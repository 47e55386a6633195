#pragma once
// Free-form text generation with Qwen3: greedy, temperature and nucleus
// (top-p) sampling, batched over prompts (left padding), with a KV cache.
#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <vector>

#include "text/qwen3_tokens.h"
#include "model/qwen3.h"

namespace qsenti {

struct GenerationOptions {
  int64_t max_new_tokens = 256;
  double temperature = 0.0;  // <= 0: greedy (argmax)
  double top_p = 1.0;        // keep the smallest set of tokens whose probability reaches top_p
  uint64_t seed = 0;         // sampling is reproducible for a given seed and batch
  // Generation of a row stops after it emits one of these (the stop token is
  // part of the output). Qwen3: <|im_end|> 151645, <|endoftext|> 151643.
  std::vector<int32_t> stop_ids{kQwen3ImEndId, kQwen3EndOfTextId};
  int32_t pad_id = kQwen3EndOfTextId;   // fills the left padding and finished rows
  // false: recompute the whole sequence at every step (slow; a reference for
  // testing the cache).
  bool use_cache = true;
};

// New tokens for each prompt (each must be non-empty), stop token included
// when one was emitted. Runs under NoGradGuard.
std::vector<std::vector<int32_t>> generate(Qwen3& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerationOptions& options = {});

// Picks one token per row from next-token logits [B, V] as `options` says
// (greedy, or temperature + top-p with `rng`). Exposed for tests.
std::vector<int32_t> pick_next_tokens(const torch::Tensor& logits, const GenerationOptions& options,
                                      std::mt19937_64& rng);

}  // namespace qsenti
