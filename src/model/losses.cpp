#include "model/losses.h"

namespace qsenti {

torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t V = logits.size(-1);
  torch::Tensor shift_logits = logits.slice(1, 0, -1).reshape({-1, V}).to(torch::kFloat32);
  torch::Tensor shift_labels = labels.slice(1, 1).reshape({-1}).to(torch::kInt64);
  return torch::nn::functional::cross_entropy(
      shift_logits, shift_labels, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex));
}

torch::Tensor per_token_nll(const torch::Tensor& logits, const torch::Tensor& ids) {
  torch::Tensor logp = torch::log_softmax(logits.slice(0, 0, -1).to(torch::kFloat32), -1);
  return -logp.gather(1, ids.slice(0, 1).to(torch::kInt64).unsqueeze(1)).squeeze(1);
}

}  // namespace qsenti
