#pragma once
// The memory a training run needs, from the run's own arithmetic: weights,
// trainable parameters with their gradients and AdamW state, and the
// activations the backward keeps. `bench_train --plan-only` prints it; on a
// GPU the benchmark sets it beside the allocator's measured peak.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/config.h"

namespace qsenti {

struct MemoryPlanOptions {
  bool full = false;             // all weights trained (fp32 master copies) instead of LoRA
  bool bf16 = true;              // LoRA: frozen base in bf16; both: bf16 autocast activations
  int64_t lora_r = 16;
  std::vector<std::string> lora_targets{"q_proj", "k_proj", "v_proj", "o_proj"};
  bool grad_checkpointing = false;
  int64_t batch = 4, seq_len = 256;  // tokens per micro-batch = batch * seq_len
  int64_t num_labels = 2;        // method C's score head (no LM head is loaded)
};

struct MemoryPlan {
  uint64_t weight_bytes = 0;      // the model as loaded (frozen base, or fp32 master weights)
  int64_t trainable_params = 0;
  uint64_t adapter_bytes = 0;     // LoRA A/B and the head, fp32 (0 for full)
  uint64_t gradient_bytes = 0;    // fp32, one per trainable parameter
  uint64_t optimizer_bytes = 0;   // AdamW exp_avg + exp_avg_sq, fp32
  uint64_t activation_bytes = 0;  // kept for the backward, at the peak
  uint64_t total() const { return weight_bytes + adapter_bytes + gradient_bytes + optimizer_bytes + activation_bytes; }
  nlohmann::json to_json() const;
};

MemoryPlan plan_training_memory(const Qwen3Config& config, const MemoryPlanOptions& options);

}  // namespace qsenti
