#pragma once
// The Qwen3 decoder in LibTorch. Module and parameter names mirror Hugging
// Face's modeling_qwen3.py (model.layers.N.self_attn.q_proj.weight, ...) so
// checkpoints map one to one.
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "model/config.h"
#include "model/linear.h"

namespace qsenti {

// Keys and values of past tokens, per layer, for incremental decoding.
// Shapes [B, num_key_value_heads, T_past, head_dim], after RoPE.
struct KVCache {
  std::vector<torch::Tensor> keys, values;
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
};

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  // Normalises in fp32, casts back to the input dtype, then scales (as HF).
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// Rotary position embedding tables for a batch of positions.
struct Rope {
  torch::Tensor cos, sin;  // [B, 1, T, head_dim], in the activation dtype
};
Rope make_rope(const torch::Tensor& position_ids, int64_t head_dim, double theta, torch::Dtype dtype);

class Qwen3AttentionImpl : public torch::nn::Module {
 public:
  explicit Qwen3AttentionImpl(const Qwen3Config& c);
  // `bias_mask`: additive [B, 1, T, T_past+T] (0 or a large negative).
  // With `rows` ([B] int64), only that position of each row is a query: the
  // output is [B, 1, H], while keys and values (and the cache) cover all T.
  torch::Tensor forward(const torch::Tensor& x, const Rope& rope, const torch::Tensor& bias_mask,
                        torch::Tensor* past_k = nullptr, torch::Tensor* past_v = nullptr,
                        const torch::Tensor& rows = {});
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};
  int64_t num_heads, num_kv_heads, head_dim;
  double scaling;
};
TORCH_MODULE(Qwen3Attention);

class Qwen3MLPImpl : public torch::nn::Module {
 public:
  explicit Qwen3MLPImpl(const Qwen3Config& c);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Qwen3MLP);

class Qwen3DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit Qwen3DecoderLayerImpl(const Qwen3Config& c);
  // `rows` as for the attention: the layer's output is [B, 1, H].
  torch::Tensor forward(const torch::Tensor& x, const Rope& rope, const torch::Tensor& bias_mask,
                        torch::Tensor* past_k = nullptr, torch::Tensor* past_v = nullptr,
                        const torch::Tensor& rows = {});
  Qwen3Attention self_attn{nullptr};
  Qwen3MLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(Qwen3DecoderLayer);

struct BackboneOutput {
  torch::Tensor last_hidden_state;           // [B, T, H], after the final norm
  std::vector<torch::Tensor> hidden_states;  // embeddings + each layer (last one normed), on request
  torch::Tensor last_layer_prenorm;          // on request
};

// Whether attention runs through LibTorch's fused scaled_dot_product_attention
// (LibTorch >= 2.5, unless QSENTI_ATTENTION=explicit) or the explicit path.
bool use_fused_attention();

struct ForwardArgs {
  torch::Tensor input_ids;       // [B, T] int64
  torch::Tensor attention_mask;  // [B, T_past + T], 1 = real token; undefined = all real
  torch::Tensor position_ids;    // [B, T]; undefined = from the mask (cumsum - 1), so
                                 // real tokens get the same positions whatever the padding
  KVCache* cache = nullptr;      // appended to when given
  bool output_hidden_states = false;
  // Activation checkpointing: recompute each layer in backward instead of
  // storing its activations (long texts in training).
  bool checkpoint_layers = false;
  // [B] int64 positions (among the T new tokens), one per row: when set, the
  // last layer computes only these positions and last_hidden_state is
  // [B, 1, H]. Pooling, label scoring and classification need nothing else,
  // and the last layer's other positions cost 1/num_layers of the forward.
  // Not with output_hidden_states.
  torch::Tensor final_positions;
};

// Token embedding with HF's parameter name (`weight`). Its storage is left
// uninitialised until a checkpoint (or init_random_weights) fills it, so that
// building a 0.6B model does not first write 600 MB of random numbers.
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num, int64_t dim);
  torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

class Qwen3ModelImpl : public torch::nn::Module {
 public:
  explicit Qwen3ModelImpl(const Qwen3Config& c);
  BackboneOutput forward(const ForwardArgs& args);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
  Qwen3Config config;
};
TORCH_MODULE(Qwen3Model);

// The backbone with the heads a checkpoint carries: the LM head (tied to the
// embeddings or its own `lm_head`) and, for sequence classification, `score`.
class Qwen3Impl : public torch::nn::Module {
 public:
  // A sequence classifier has no LM head, tied or not (as transformers'
  // Qwen3ForSequenceClassification): with_lm_head false leaves it out.
  Qwen3Impl(const Qwen3Config& c, bool with_score_head, bool with_lm_head = true);
  BackboneOutput forward(const ForwardArgs& args) { return model->forward(args); }
  // Where the weights live; forward() moves its inputs there, its outputs stay.
  torch::Device device() const { return model->embed_tokens->weight.device(); }
  // Vocabulary logits for some hidden states [.., H] → [.., V]. Apply it only
  // to the positions you need: the vocabulary is 151,936 wide.
  torch::Tensor lm_logits(const torch::Tensor& hidden);
  torch::Tensor score_logits(const torch::Tensor& hidden);  // [.., num_labels]
  bool has_score() const { return !score.is_empty(); }
  void add_score_head(int64_t num_labels);

  // LoRA on the named projections of every layer (q_proj, k_proj, v_proj,
  // o_proj, gate_proj, up_proj, down_proj). Returns how many were wrapped.
  int add_lora(const LoraSpec& spec, const std::vector<std::string>& targets);
  void merge_lora();
  void unmerge_lora();
  // Inference: merges the adapters of fp32 layers (exact within fp32
  // rounding) and keeps those over bf16/fp16 weights unmerged, so a run
  // predicts with the model its validation measured (rounding base + delta
  // to bf16 would be another model).
  void merge_lora_for_inference();
  // Every Linear with LoRA, by HF module path (e.g. "model.layers.0.self_attn.q_proj").
  std::vector<std::pair<std::string, Linear>> lora_layers();

  Qwen3Model model{nullptr};
  Linear lm_head{nullptr};
  Linear score{nullptr};
  Qwen3Config config;
  bool has_lm_head = true;
};
TORCH_MODULE(Qwen3);

// The index of the last real token of each row: mask [B, T] → [B]. Works for
// left and right padding.
torch::Tensor last_token_index(const torch::Tensor& attention_mask);
// HF's sequence-classifier pooling: the rightmost token that is not pad_id.
torch::Tensor last_non_pad_index(const torch::Tensor& input_ids, int64_t pad_id);
// Gathers rows [B, T, H] at per-batch indices [B] → [B, H].
torch::Tensor gather_positions(const torch::Tensor& hidden, const torch::Tensor& index);
// Positions as generate() computes them: cumsum(mask) - 1, pads set to 1.
torch::Tensor positions_from_mask(const torch::Tensor& attention_mask);

}  // namespace qsenti
