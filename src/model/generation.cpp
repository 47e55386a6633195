#include "model/generation.h"

#include <algorithm>

#include "text/batch.h"
#include "util/error.h"

namespace qsenti {

namespace {

// Uniform in [0, 1) from 53 random bits: the same on every standard library
// (std::uniform_real_distribution is not).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace

std::vector<int32_t> pick_next_tokens(const torch::Tensor& logits, const GenerationOptions& o, std::mt19937_64& rng) {
  TORCH_CHECK(logits.dim() == 2, "pick_next_tokens: logits must be [batch, vocab]");
  const int64_t B = logits.size(0);
  std::vector<int32_t> out(B);
  if (o.temperature <= 0) {
    torch::Tensor best = logits.argmax(-1).to(torch::kCPU);
    for (int64_t b = 0; b < B; ++b) out[b] = static_cast<int32_t>(best[b].item<int64_t>());
    return out;
  }
  torch::Tensor probs = torch::softmax(logits.to(torch::kCPU, torch::kFloat32) / o.temperature, -1);
  auto sorted = probs.sort(-1, /*descending=*/true);
  torch::Tensor values = std::get<0>(sorted).contiguous(), index = std::get<1>(sorted).contiguous();
  const int64_t V = values.size(1);
  const double top_p = std::clamp(o.top_p, 0.0, 1.0);
  for (int64_t b = 0; b < B; ++b) {
    const float* p = values[b].data_ptr<float>();
    const int64_t* id = index[b].data_ptr<int64_t>();
    // Nucleus: the most probable tokens until their mass reaches top_p (at
    // least one), then sample among them in proportion to their probability.
    int64_t keep = 0;
    double mass = 0;
    while (keep < V && (keep == 0 || mass < top_p)) mass += p[keep++];
    double u = uniform01(rng) * mass, acc = 0;
    int64_t pick = keep - 1;
    for (int64_t i = 0; i < keep; ++i) {
      acc += p[i];
      if (u < acc) {
        pick = i;
        break;
      }
    }
    out[b] = static_cast<int32_t>(id[pick]);
  }
  return out;
}

std::vector<std::vector<int32_t>> generate(Qwen3& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerationOptions& o) {
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int32_t>> out(B);
  if (B == 0 || o.max_new_tokens <= 0) return out;
  for (const auto& p : prompts)
    if (p.empty()) throw Error("generate: empty prompt");
  const auto device = model->model->embed_tokens->weight.device();
  TokenBatch batch = pad_batch(prompts, o.pad_id, PadSide::kLeft);
  torch::Tensor all_ids = batch.input_ids.to(device);
  torch::Tensor mask = batch.attention_mask.to(device);
  torch::Tensor feed = all_ids;
  KVCache cache;
  std::mt19937_64 rng(o.seed);
  std::vector<bool> finished(B, false);
  int64_t running = B;
  for (int64_t step = 0; step < o.max_new_tokens && running > 0; ++step) {
    ForwardArgs a;
    a.input_ids = o.use_cache ? feed : all_ids;
    a.attention_mask = mask;
    if (o.use_cache) a.cache = &cache;
    torch::Tensor last = model->forward(a).last_hidden_state.select(1, -1);  // [B, H]
    std::vector<int32_t> next = pick_next_tokens(model->lm_logits(last).to(torch::kFloat32), o, rng);
    std::vector<int64_t> next64(B);
    for (int64_t b = 0; b < B; ++b) {
      if (finished[b]) {
        next[b] = o.pad_id;  // finished rows idle on padding nobody reads
      } else {
        out[b].push_back(next[b]);
        if (std::find(o.stop_ids.begin(), o.stop_ids.end(), next[b]) != o.stop_ids.end()) {
          finished[b] = true;
          --running;
        }
      }
      next64[b] = next[b];
    }
    feed = torch::tensor(next64, torch::TensorOptions().dtype(torch::kInt64)).view({B, 1}).to(device);
    all_ids = torch::cat({all_ids, feed}, 1);
    mask = torch::cat({mask, torch::ones({B, 1}, mask.options())}, 1);
  }
  return out;
}

}  // namespace qsenti
