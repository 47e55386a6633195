#include "methods/label_scoring.h"

#include <algorithm>

#include "model/losses.h"
#include "text/batch.h"
#include "util/error.h"

namespace qsenti {

namespace {
// Below this a separate pass for the shared opening costs more than it saves.
constexpr size_t kMinSharedPrefix = 4;
}  // namespace

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

PromptPrefix encode_prompt_prefix(Qwen3& model, const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  PromptPrefix p;
  p.ids = ids;
  if (ids.empty()) return p;
  const auto device = model->model->embed_tokens->weight.device();
  ForwardArgs a;
  a.input_ids = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0).to(device);
  a.cache = &p.cache;
  model->model->forward(a);
  return p;
}

torch::Tensor score_answers(Qwen3& model, const std::vector<std::vector<int32_t>>& prompts,
                            const std::vector<std::vector<int32_t>>& answers, int32_t pad_id,
                            const PromptPrefix* prefix) {
  torch::NoGradGuard no_grad;
  const int64_t N = static_cast<int64_t>(prompts.size()), K = static_cast<int64_t>(answers.size());
  const auto device = model->model->embed_tokens->weight.device();
  torch::Tensor out = torch::zeros({N, K}, torch::kFloat32);
  if (N == 0) return out;
  for (const auto& p : prompts)
    if (p.empty()) throw Error("score_answers: empty prompt");
  for (const auto& a : answers)
    if (a.empty()) throw Error("score_answers: empty answer");

  // The prompts share the template's opening (17 tokens of the default one,
  // a fifth of a Weibo prompt): it runs once, as one row, and its KV cache is
  // broadcast to every row. At least the last token of each prompt stays in
  // the per-row part, whose hidden state predicts the answer.
  PromptPrefix found;
  if (prefix) {
    for (const auto& p : prompts)
      if (p.size() <= prefix->ids.size() || !std::equal(prefix->ids.begin(), prefix->ids.end(), p.begin()))
        throw Error("score_answers: a prompt does not extend the shared prefix");
  } else {
    size_t n = prompts[0].size() - 1;
    for (const auto& p : prompts) {
      n = std::min(n, p.size() - 1);
      size_t j = 0;
      while (j < n && p[j] == prompts[0][j]) ++j;
      n = j;
    }
    if (N > 1 && n >= kMinSharedPrefix) {
      found = encode_prompt_prefix(model, std::vector<int32_t>(prompts[0].begin(), prompts[0].begin() + static_cast<int64_t>(n)));
      prefix = &found;
    }
  }
  const size_t shared = prefix ? prefix->ids.size() : 0;
  KVCache cache;
  if (prefix) {
    cache = prefix->cache;
    for (auto* side : {&cache.keys, &cache.values})
      for (auto& t : *side) t = t.expand({N, t.size(1), t.size(2), t.size(3)});
  }
  torch::Tensor prefix_mask = torch::ones({N, static_cast<int64_t>(shared)}, torch::kInt64);
  std::vector<std::vector<int32_t>> rests;
  rests.reserve(prompts.size());
  for (const auto& p : prompts) rests.emplace_back(p.begin() + static_cast<int64_t>(shared), p.end());

  // Left padding puts every prompt's last token in the last column, where the
  // first answer token is predicted, and the continuations follow directly.
  // Pads sit between the shared part and the rest: masked, and the positions
  // (counted over real tokens) run on as if they were not there.
  TokenBatch batch = pad_batch(rests, pad_id, PadSide::kLeft);
  torch::Tensor ids = batch.input_ids.to(device);
  torch::Tensor mask = torch::cat({prefix_mask, batch.attention_mask.to(torch::kInt64)}, 1).to(device);
  const int64_t T = ids.size(1);
  ForwardArgs args;
  args.input_ids = ids;
  args.attention_mask = mask;
  args.cache = &cache;
  args.final_positions = torch::full({N}, T - 1, torch::kInt64);  // the last layer runs that token only
  torch::Tensor last = model->forward(args).last_hidden_state.select(1, 0);            // [N, H]
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
