#pragma once
// Method B's two uses of the LM head, both projecting only the positions that
// matter (the vocabulary is 151,936 wide; a full [B, T, V] projection costs
// more than the rest of a small model's forward):
//  - training: the causal LM loss on the answer tokens alone;
//  - prediction: log p(answer | prompt) for every candidate answer, teacher
//    forced, with one pass over the prompts and a short cached continuation
//    per answer.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/qwen3.h"

namespace qsenti {

// Equals causal_lm_loss(model->lm_logits(hidden), labels) (HF's shift, -100
// ignored, mean over the rest, fp32) but projects only the positions t whose
// next label labels[t+1] is not -100. hidden [B, T, H], labels [B, T].
torch::Tensor answer_lm_loss(Qwen3& model, const torch::Tensor& hidden, const torch::Tensor& labels);

// The KV cache of an opening that many prompts share (a template's
// instruction), computed once as a single row.
struct PromptPrefix {
  std::vector<int32_t> ids;
  KVCache cache;  // [1, kv_heads, ids.size(), head_dim] per layer
};
PromptPrefix encode_prompt_prefix(Qwen3& model, const std::vector<int32_t>& ids);

// Summed log-probabilities log p(answers[k] | prompts[i]) → [N, K] fp32.
// Prompts are left-padded with pad_id into one batch (all of them: callers
// batch); every prompt must be non-empty and every answer non-empty. The
// opening the prompts share (a template's instruction) runs once for the
// batch; the rest fills a KV cache; each answer then runs as a continuation
// of length |answer| - 1 on a shallow copy of it. Runs under NoGradGuard.
// With `prefix` (valid for this model's current weights), every prompt must
// start with its ids and go on past them, and the batch reuses its cache;
// without, the batch's common opening is found and run once.
torch::Tensor score_answers(Qwen3& model, const std::vector<std::vector<int32_t>>& prompts,
                            const std::vector<std::vector<int32_t>>& answers, int32_t pad_id,
                            const PromptPrefix* prefix = nullptr);

// Label probabilities from summed answer log-probabilities: softmax over
// labels, [N, K] → [N, K].
torch::Tensor label_probabilities(const torch::Tensor& answer_logprobs);

}  // namespace qsenti
