#pragma once
// Losses with Hugging Face's conventions.
#include <torch/torch.h>

namespace qsenti {

constexpr int64_t kIgnoreIndex = -100;

// Causal LM loss: logits [B, T, V] at position t predict labels[t + 1]
// (HF shifts inside the model); labels equal to -100 are ignored; mean over
// the rest. Computed in fp32.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// -log p(next token) for each position t < T-1 of one sequence: [T, V] → [T-1].
torch::Tensor per_token_nll(const torch::Tensor& logits, const torch::Tensor& ids);

// "Balanced" class weights for unbalanced data (--class-weights auto):
// n / (classes x count of the class), as scikit-learn's; 0 for a class with
// no example. float32 [num_classes].
torch::Tensor balanced_class_weights(const std::vector<int64_t>& labels, int64_t num_classes);

}  // namespace qsenti
