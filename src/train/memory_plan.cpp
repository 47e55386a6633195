#include "train/memory_plan.h"

#include <algorithm>

#include "model/loading.h"

namespace qsenti {

nlohmann::json MemoryPlan::to_json() const {
  return {{"weight_bytes", weight_bytes},       {"trainable_params", trainable_params},
          {"adapter_bytes", adapter_bytes},     {"gradient_bytes", gradient_bytes},
          {"optimizer_bytes", optimizer_bytes}, {"activation_bytes", activation_bytes},
          {"total_bytes", total()}};
}

MemoryPlan plan_training_memory(const Qwen3Config& c, const MemoryPlanOptions& o) {
  MemoryPlan p;
  int64_t base = 0;
  for (const auto& [name, shape] : qwen3_tensor_shapes(c, /*score_head=*/false)) {
    if (name == "lm_head.weight") continue;  // a classifier loads no LM head
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    base += n;
  }
  const int64_t head = c.hidden_size * o.num_labels;
  const int64_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_dim(), KV = c.kv_dim(), L = c.num_hidden_layers;
  if (o.full) {
    p.trainable_params = base + head;
    p.weight_bytes = static_cast<uint64_t>(base + head) * 4;
  } else {
    int64_t lora = 0;
    auto dims = [&](const std::string& t) -> std::pair<int64_t, int64_t> {
      if (t == "q_proj") return {H, Q};
      if (t == "k_proj" || t == "v_proj") return {H, KV};
      if (t == "o_proj") return {Q, H};
      if (t == "gate_proj" || t == "up_proj") return {H, I};
      if (t == "down_proj") return {I, H};
      return {0, 0};
    };
    for (const auto& t : o.lora_targets) {
      auto [in, out] = dims(t);
      lora += o.lora_r * (in + out) * L;
    }
    p.trainable_params = lora + head;
    p.weight_bytes = static_cast<uint64_t>(base) * (o.bf16 ? 2 : 4);
    p.adapter_bytes = static_cast<uint64_t>(lora + head) * 4;
  }
  p.gradient_bytes = static_cast<uint64_t>(p.trainable_params) * 4;
  p.optimizer_bytes = static_cast<uint64_t>(p.trainable_params) * 8;

  // Per token and layer, what autograd keeps (elements of the activation
  // dtype): the two norms' outputs (inputs of q/k/v and gate/up), q, k, v
  // after RoPE, the attention output (o_proj's input), gate, up, silu(gate)
  // and their product (down_proj's input); plus the norms' fp32 inputs.
  const uint64_t act = o.bf16 ? 2 : 4;
  const uint64_t tokens = static_cast<uint64_t>(o.batch * o.seq_len);
  const uint64_t per_token_layer = act * static_cast<uint64_t>(2 * H + 2 * Q + 2 * KV + 4 * I) + 4 * 2 * H;
  // Attention probabilities per row: heads x seq_len (fp32 softmax and its cast).
  const uint64_t attn = tokens * static_cast<uint64_t>(c.num_attention_heads * o.seq_len) * (4 + act);
  const uint64_t layer = tokens * per_token_layer + attn;
  // Checkpointing keeps each layer's input and recomputes one layer at a time.
  p.activation_bytes = o.grad_checkpointing ? static_cast<uint64_t>(L) * tokens * act * H + layer
                                            : static_cast<uint64_t>(L) * layer;
  return p;
}

}  // namespace qsenti
