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

torch::Tensor balanced_class_weights(const std::vector<int64_t>& labels, int64_t num_classes) {
  std::vector<double> count(static_cast<size_t>(num_classes), 0.0);
  for (int64_t y : labels)
    if (y >= 0 && y < num_classes) count[static_cast<size_t>(y)] += 1;
  std::vector<float> w(static_cast<size_t>(num_classes), 0.f);
  for (size_t c = 0; c < w.size(); ++c)
    if (count[c] > 0) w[c] = static_cast<float>(static_cast<double>(labels.size()) / (static_cast<double>(num_classes) * count[c]));
  return torch::tensor(w, torch::kFloat32);
}

}  // namespace qsenti
