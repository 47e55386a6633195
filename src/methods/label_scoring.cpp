#include "methods/label_scoring.h"

#include "model/losses.h"
#include "text/batch.h"
#include "util/error.h"

namespace qsenti {

torch::Tensor answer_lm_loss(Qwen3& model, const torch::Tensor& hidden, const torch::Tensor& labels) {
  TORCH_CHECK(hidden.dim() == 3 && labels.dim() == 2 && hidden.size(0) == labels.size(0) &&
                  hidden.size(1) == labels.size(1),
              "answer_lm_loss: hidden [B, T, H] and labels [B, T] must agree");
  torch::Tensor next = labels.slice(1, 1).to(hidden.device(), torch::kInt64);  // what position t predicts
  torch::Tensor wanted = next != kIgnoreIndex;                                  // [B, T-1]
  torch::Tensor h = hidden.slice(1, 0, -1).index({wanted});                    // [M, H]
  torch::Tensor logits = model->lm_logits(h).to(torch::kFloat32);              // [M, V]
  return torch::nn::functional::cross_entropy(logits, next.index({wanted}));
}

torch::Tensor score_answers(Qwen3& model, const std::vector<std::vector<int32_t>>& prompts,
                            const std::vector<std::vector<int32_t>>& answers, int32_t pad_id) {
  torch::NoGradGuard no_grad;
  const int64_t N = static_cast<int64_t>(prompts.size()), K = static_cast<int64_t>(answers.size());
  const auto device = model->model->embed_tokens->weight.device();
  torch::Tensor out = torch::zeros({N, K}, torch::kFloat32);
  if (N == 0) return out;
  for (const auto& p : prompts)
    if (p.empty()) throw Error("score_answers: empty prompt");
  for (const auto& a : answers)
    if (a.empty()) throw Error("score_answers: empty answer");

  // Left padding puts every prompt's last token in the last column, where the
  // first answer token is predicted, and the continuations follow directly.
  TokenBatch batch = pad_batch(prompts, pad_id, PadSide::kLeft);
  torch::Tensor ids = batch.input_ids.to(device);
  torch::Tensor mask = batch.attention_mask.to(device);
  const int64_t T = ids.size(1);
  KVCache cache;
  ForwardArgs args;
  args.input_ids = ids;
  args.attention_mask = mask;
  args.cache = &cache;
  torch::Tensor last = model->forward(args).last_hidden_state.select(1, T - 1);        // [N, H]
  torch::Tensor first_logp = torch::log_softmax(model->lm_logits(last).to(torch::kFloat32), -1);  // [N, V]

  auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  for (int64_t k = 0; k < K; ++k) {
    const auto& ans = answers[k];
    const int64_t A = static_cast<int64_t>(ans.size());
    torch::Tensor score = first_logp.select(1, ans[0]).clone();  // [N]
    if (A > 1) {
      // The continuation sees the prompt through a shallow copy of the cache
      // (attention concatenates into new tensors, the prompt's stay intact).
      KVCache cont_cache = cache;
      std::vector<int64_t> feed(ans.begin(), ans.end() - 1), target(ans.begin() + 1, ans.end());
      ForwardArgs c;
      c.input_ids = torch::tensor(feed, long_opts).unsqueeze(0).expand({N, A - 1}).contiguous();
      c.attention_mask = torch::cat({mask, torch::ones({N, A - 1}, mask.options())}, 1);
      c.cache = &cont_cache;
      torch::Tensor h = model->forward(c).last_hidden_state;                            // [N, A-1, H]
      torch::Tensor logp = torch::log_softmax(model->lm_logits(h).to(torch::kFloat32), -1);  // [N, A-1, V]
      torch::Tensor tgt = torch::tensor(target, long_opts).view({1, A - 1, 1}).expand({N, A - 1, 1});
      score += logp.gather(2, tgt).squeeze(-1).sum(1);
    }
    out.select(1, k).copy_(score.to(torch::kCPU));
  }
  return out;
}

torch::Tensor label_probabilities(const torch::Tensor& answer_logprobs) {
  return torch::softmax(answer_logprobs.to(torch::kFloat32), -1);
}

}  // namespace qsenti
