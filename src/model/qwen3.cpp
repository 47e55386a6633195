#include "model/qwen3.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "device/device.h"
#include "util/error.h"
#include "util/torch_compat.h"

namespace qsenti {

// ------------------------------------------------------------------ RMSNorm

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const auto in_dtype = x.scalar_type();
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(in_dtype);
}

// --------------------------------------------------------------------- RoPE

Rope make_rope(const torch::Tensor& position_ids, int64_t head_dim, double theta, torch::Dtype dtype) {
  // Angles in fp32 as HF computes them: inv_freq = 1 / theta^(2i/d).
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(position_ids.device());
  torch::Tensor inv_freq =
      1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, opts.dtype(torch::kInt64)).to(torch::kFloat32) / head_dim);
  torch::Tensor freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // [B, T, d/2]
  torch::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                  // [B, 1, T, d]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

namespace {

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x, const Rope& rope) {
  return x * rope.cos + rotate_half(x) * rope.sin;
}

// t[b, rows[b]] along `dim`, keeping that dimension (size 1).
torch::Tensor take_rows(const torch::Tensor& t, const torch::Tensor& rows, int64_t dim) {
  std::vector<int64_t> shape(static_cast<size_t>(t.dim()), 1);
  shape[0] = t.size(0);
  std::vector<int64_t> sizes = t.sizes().vec();
  sizes[static_cast<size_t>(dim)] = 1;
  return t.gather(dim, rows.view(shape).expand(sizes));
}

}  // namespace

// ---------------------------------------------------------------- Attention

bool use_fused_attention() {
  // QSENTI_ATTENTION=explicit keeps the explicit path where the fused one
  // exists (the reference tests run both).
  static const bool fused = [] {
    const char* e = std::getenv("QSENTI_ATTENTION");
    return compat::kHasFusedAttention && !(e && std::strcmp(e, "explicit") == 0);
  }();
  return fused;
}

Qwen3AttentionImpl::Qwen3AttentionImpl(const Qwen3Config& c)
    : num_heads(c.num_attention_heads), num_kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  scaling = 1.0 / std::sqrt(static_cast<double>(head_dim));
  q_proj = register_module("q_proj", Linear(c.hidden_size, c.q_dim(), c.attention_bias));
  k_proj = register_module("k_proj", Linear(c.hidden_size, c.kv_dim(), c.attention_bias));
  v_proj = register_module("v_proj", Linear(c.hidden_size, c.kv_dim(), c.attention_bias));
  o_proj = register_module("o_proj", Linear(c.q_dim(), c.hidden_size, c.attention_bias));
  q_norm = register_module("q_norm", RMSNorm(head_dim, c.rms_norm_eps));
  k_norm = register_module("k_norm", RMSNorm(head_dim, c.rms_norm_eps));
}

torch::Tensor Qwen3AttentionImpl::forward(const torch::Tensor& x, const Rope& rope, const torch::Tensor& bias_mask,
                                          torch::Tensor* past_k, torch::Tensor* past_v, const torch::Tensor& rows) {
  const int64_t B = x.size(0), T = x.size(1);
  const bool some = rows.defined();
  const torch::Tensor xq = some ? take_rows(x, rows, 1) : x;
  const int64_t Tq = xq.size(1);
  // Per-head RMSNorm on q and k (one weight shared by the heads), then RoPE.
  torch::Tensor q = q_norm(q_proj(xq).view({B, Tq, num_heads, head_dim})).transpose(1, 2);
  torch::Tensor k = k_norm(k_proj(x).view({B, T, num_kv_heads, head_dim})).transpose(1, 2);
  torch::Tensor v = v_proj(x).view({B, T, num_kv_heads, head_dim}).transpose(1, 2);
  q = apply_rope(q, some ? Rope{take_rows(rope.cos, rows, 2), take_rows(rope.sin, rows, 2)} : rope);
  k = apply_rope(k, rope);
  if (past_k) {
    if (past_k->defined()) {
      k = torch::cat({*past_k, k}, 2);
      v = torch::cat({*past_v, v}, 2);
    }
    *past_k = k;
    *past_v = v;
  }
  const int64_t Tk = k.size(2);
  const int64_t groups = num_heads / num_kv_heads;
  if (use_fused_attention()) {
    torch::Tensor out = compat::fused_attention(q, k, v, some ? take_rows(bias_mask, rows, 2) : bias_mask, scaling);
    return o_proj(out.transpose(1, 2).reshape({B, Tq, num_heads * head_dim}));
  }
  // Grouped-query attention: each K/V head serves `groups` query heads.
  // Folding the groups into the query axis avoids materialising repeated K/V.
  torch::Tensor qg = q.reshape({B, num_kv_heads, groups * Tq, head_dim});
  torch::Tensor scores = torch::matmul(qg, k.transpose(2, 3)).mul_(scaling);   // [B, KV, G*Tq, Tk]
  // In place: at inference the [B, H, Tq, Tk] scores are the largest transient.
  scores = scores.view({B, num_heads, Tq, Tk}).add_(some ? take_rows(bias_mask, rows, 2) : bias_mask);
  torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  torch::Tensor out = torch::matmul(probs.view({B, num_kv_heads, groups * Tq, Tk}), v);  // [B, KV, G*Tq, D]
  out = out.view({B, num_heads, Tq, head_dim}).transpose(1, 2).reshape({B, Tq, num_heads * head_dim});
  return o_proj(out);
}

// ---------------------------------------------------------------------- MLP

Qwen3MLPImpl::Qwen3MLPImpl(const Qwen3Config& c) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, false));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, false));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, false));
}

torch::Tensor Qwen3MLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

// -------------------------------------------------------------------- Layer

Qwen3DecoderLayerImpl::Qwen3DecoderLayerImpl(const Qwen3Config& c) {
  self_attn = register_module("self_attn", Qwen3Attention(c));
  mlp = register_module("mlp", Qwen3MLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor Qwen3DecoderLayerImpl::forward(const torch::Tensor& x, const Rope& rope, const torch::Tensor& bias_mask,
                                             torch::Tensor* past_k, torch::Tensor* past_v, const torch::Tensor& rows) {
  const torch::Tensor residual = rows.defined() ? take_rows(x, rows, 1) : x;
  torch::Tensor h = residual + self_attn(input_layernorm(x), rope, bias_mask, past_k, past_v, rows);
  return h + mlp(post_attention_layernorm(h));
}

namespace {

// Activation checkpointing: the forward keeps only the layer's input; the
// backward recomputes the layer with the same RNG and autocast state.
class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor cos,
                               torch::Tensor sin, torch::Tensor mask, int64_t layer_ptr) {
    ctx->save_for_backward({x, cos, sin, mask});
    ctx->saved_data["layer"] = layer_ptr;
    ctx->saved_data["autocast"] = compat::autocast_enabled(x.device().type());
    ctx->saved_data["rng"] = generator_state(x.device());
    auto* layer = reinterpret_cast<Qwen3DecoderLayerImpl*>(layer_ptr);
    torch::NoGradGuard no_grad;
    return layer->forward(x, Rope{cos, sin}, mask);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<Qwen3DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    torch::Tensor x = saved[0].detach().requires_grad_(true);
    // The recomputation draws the dropout masks the forward drew: the
    // generator of the layer's device goes back to where it was, then on.
    const torch::Device device = x.device();
    torch::Tensor rng_now = generator_state(device);
    set_generator_state(device, ctx->saved_data["rng"].toTensor());
    torch::Tensor y;
    {
      torch::AutoGradMode grad_on(true);
      compat::Autocast autocast(device.type(), ctx->saved_data["autocast"].toBool());
      y = layer->forward(x, Rope{saved[1], saved[2]}, saved[3]);
    }
    set_generator_state(device, rng_now);
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

// -------------------------------------------------------------------- Model

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t dim) {
  weight = register_parameter("weight", torch::empty({num, dim}));
}

Qwen3ModelImpl::Qwen3ModelImpl(const Qwen3Config& c) : config(c) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(Qwen3DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor positions_from_mask(const torch::Tensor& attention_mask) {
  torch::Tensor m = attention_mask.to(torch::kInt64);
  torch::Tensor pos = m.cumsum(-1) - 1;
  return pos.masked_fill(m == 0, 1);
}

BackboneOutput Qwen3ModelImpl::forward(const ForwardArgs& a) {
  TORCH_CHECK(a.input_ids.dim() == 2, "input_ids must be [batch, seq]");
  const int64_t B = a.input_ids.size(0), T = a.input_ids.size(1);
  const int64_t past = a.cache ? a.cache->length() : 0;
  // Inputs may come from the host: they go where the weights are.
  const auto device = embed_tokens->weight.device();
  const torch::Tensor input_ids = to_device(a.input_ids, device);
  torch::Tensor mask = a.attention_mask.defined()
                           ? to_device(a.attention_mask, device).to(torch::kBool)
                           : torch::ones({B, past + T}, torch::TensorOptions().dtype(torch::kBool).device(device));
  TORCH_CHECK(mask.size(0) == B && mask.size(1) == past + T,
              "attention_mask must be [batch, past + seq] = [", B, ", ", past + T, "]");
  torch::Tensor pos = a.position_ids.defined() ? a.position_ids.to(device, torch::kInt64)
                                               : positions_from_mask(mask).slice(1, past, past + T);

  torch::Tensor h = embed_tokens(input_ids);
  const auto dtype = h.scalar_type();
  const auto act_dtype = compat::activation_dtype(device.type(), dtype);
  Rope rope = make_rope(pos, config.head_dim, config.rope_theta, act_dtype);

  // Query i (absolute position past+i) may see key j when j <= past+i and j is
  // a real token. Fully masked rows (pad queries in left padding) get a finite
  // large negative everywhere, so they stay finite junk that nobody reads.
  torch::Tensor q_idx = torch::arange(past, past + T, torch::TensorOptions().dtype(torch::kInt64).device(device));
  torch::Tensor k_idx = torch::arange(0, past + T, torch::TensorOptions().dtype(torch::kInt64).device(device));
  torch::Tensor allowed = (k_idx.unsqueeze(0) <= q_idx.unsqueeze(1)).unsqueeze(0) & mask.unsqueeze(1);  // [B,T,Tk]
  const double neg = act_dtype == torch::kFloat32 ? std::numeric_limits<float>::lowest()
                                                  : -1e30;  // bf16 has fp32's range
  torch::Tensor bias_mask =
      torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(act_dtype).device(device))
          .masked_fill_(allowed.logical_not(), neg)
          .unsqueeze(1);  // [B, 1, T, Tk]

  BackboneOutput out;
  if (a.output_hidden_states) out.hidden_states.push_back(h);
  if (a.cache && a.cache->keys.empty()) {
    a.cache->keys.resize(layers->size());
    a.cache->values.resize(layers->size());
  }
  torch::Tensor final_rows;
  if (a.final_positions.defined()) {
    TORCH_CHECK(!a.output_hidden_states, "final_positions and output_hidden_states exclude each other");
    final_rows = to_device(a.final_positions, device).to(torch::kInt64).reshape({B});
    TORCH_CHECK(final_rows.numel() == 0 || (final_rows.min().item<int64_t>() >= 0 && final_rows.max().item<int64_t>() < T),
                "final_positions must lie in [0, ", T, ")");
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    auto* layer = layers[i]->as<Qwen3DecoderLayerImpl>();
    const bool last = i + 1 == layers->size();
    if (last && final_rows.defined()) {
      // Not checkpointed: with one query per row it keeps little.
      h = layer->forward(h, rope, bias_mask, a.cache ? &a.cache->keys[i] : nullptr,
                         a.cache ? &a.cache->values[i] : nullptr, final_rows);
    } else if (a.checkpoint_layers && torch::GradMode::is_enabled() && !a.cache) {
      // A custom Function's output needs grad only if an input does: with
      // frozen embeddings (LoRA) nothing would, and no layer below the last
      // would get its LoRA gradients. transformers' enable_input_require_grads.
      if (!h.requires_grad()) h = h.detach().requires_grad_(true);
      h = CheckpointedLayer::apply(h, rope.cos, rope.sin, bias_mask, reinterpret_cast<int64_t>(layer));
    } else {
      h = layer->forward(h, rope, bias_mask, a.cache ? &a.cache->keys[i] : nullptr,
                         a.cache ? &a.cache->values[i] : nullptr);
    }
    if (a.output_hidden_states && i + 1 < layers->size()) out.hidden_states.push_back(h);
  }
  if (a.output_hidden_states) out.last_layer_prenorm = h;
  out.last_hidden_state = norm(h);
  if (a.output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
  return out;
}

// ------------------------------------------------------------- With heads

Qwen3Impl::Qwen3Impl(const Qwen3Config& c, bool with_score_head, bool with_lm_head)
    : config(c), has_lm_head(with_lm_head) {
  model = register_module("model", Qwen3Model(c));
  if (!c.tie_word_embeddings && with_lm_head) lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false));
  if (with_score_head) add_score_head(c.num_labels);
}

void Qwen3Impl::add_score_head(int64_t num_labels) {
  TORCH_CHECK(!has_score(), "score head added twice");
  TORCH_CHECK(num_labels >= 2, "a classifier needs at least 2 labels");
  config.num_labels = num_labels;
  score = register_module("score", Linear(config.hidden_size, num_labels, false));
}

torch::Tensor Qwen3Impl::lm_logits(const torch::Tensor& hidden) {
  if (!has_lm_head) throw Error("this model was loaded as a sequence classifier: it has no LM head");
  const torch::Tensor& w = lm_head.is_empty() ? model->embed_tokens->weight : lm_head->weight;
  // oneDNN's bf16 matmul copies the weight into its blocked layout on every
  // call: for the 151,936-row vocabulary that is a transient copy as large as
  // the embedding table (311 MB for 0.6B). Projecting slice by slice bounds it.
  constexpr int64_t kRowsPerSlice = 16384;
  const int64_t V = w.size(0);
  if (V <= kRowsPerSlice) return torch::linear(hidden, w);
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < V; start += kRowsPerSlice)
    parts.push_back(torch::linear(hidden, w.narrow(0, start, std::min(kRowsPerSlice, V - start))));
  return torch::cat(parts, -1);
}

torch::Tensor Qwen3Impl::score_logits(const torch::Tensor& hidden) {
  if (!has_score()) throw Error("this model has no classification (score) head");
  return score(hidden);
}

std::vector<std::pair<std::string, Linear>> Qwen3Impl::lora_layers() {
  std::vector<std::pair<std::string, Linear>> out;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (auto lin = std::dynamic_pointer_cast<LinearImpl>(item.value())) {
      if (lin->has_lora()) out.emplace_back(item.key(), Linear(lin));
    }
  }
  return out;
}

int Qwen3Impl::add_lora(const LoraSpec& spec, const std::vector<std::string>& targets) {
  static const std::vector<std::string> known{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  for (const auto& t : targets)
    if (std::find(known.begin(), known.end(), t) == known.end())
      throw Error("unknown LoRA target \"" + t + "\" (choose among q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)",
                  ExitCode::kUsage);
  int n = 0;
  auto wants = [&](const std::string& name) { return std::find(targets.begin(), targets.end(), name) != targets.end(); };
  for (const auto& m : *model->layers) {
    auto* layer = m->as<Qwen3DecoderLayerImpl>();
    auto& at = *layer->self_attn;
    auto& mlp = *layer->mlp;
    std::vector<std::pair<std::string, Linear*>> projs{
        {"q_proj", &at.q_proj},     {"k_proj", &at.k_proj}, {"v_proj", &at.v_proj},    {"o_proj", &at.o_proj},
        {"gate_proj", &mlp.gate_proj}, {"up_proj", &mlp.up_proj}, {"down_proj", &mlp.down_proj}};
    for (auto& [name, lin] : projs) {
      if (!wants(name)) continue;
      (*lin)->add_lora(spec);
      // The adapter lives on the base weight's device, in fp32 (as peft).
      (*lin)->lora_A->to((*lin)->weight.device(), torch::kFloat32);
      (*lin)->lora_B->to((*lin)->weight.device(), torch::kFloat32);
      ++n;
    }
  }
  return n;
}

void Qwen3Impl::merge_lora() {
  for (auto& [name, lin] : lora_layers()) lin->merge_lora();
}
void Qwen3Impl::unmerge_lora() {
  for (auto& [name, lin] : lora_layers()) lin->unmerge_lora();
}
void Qwen3Impl::merge_lora_for_inference() {
  for (auto& [name, lin] : lora_layers())
    if (lin->weight.scalar_type() == torch::kFloat32) lin->merge_lora();
}

// ---------------------------------------------------------------- Pooling

torch::Tensor last_token_index(const torch::Tensor& attention_mask) {
  // Position of the last 1 in each row: works for left and right padding.
  const int64_t T = attention_mask.size(1);
  torch::Tensor idx = torch::arange(T, torch::TensorOptions().dtype(torch::kInt64).device(attention_mask.device()));
  return (attention_mask.to(torch::kInt64) * (idx + 1)).argmax(1);
}

torch::Tensor last_non_pad_index(const torch::Tensor& input_ids, int64_t pad_id) {
  return last_token_index(input_ids != pad_id);
}

torch::Tensor gather_positions(const torch::Tensor& hidden, const torch::Tensor& index) {
  const int64_t B = hidden.size(0);
  torch::Tensor rows = torch::arange(B, torch::TensorOptions().dtype(torch::kInt64).device(hidden.device()));
  return hidden.index({rows, index.to(hidden.device())});
}

}  // namespace qsenti
