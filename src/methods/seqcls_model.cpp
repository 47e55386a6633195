#include "text/qwen3_tokens.h"
#include "methods/seqcls_model.h"

#include "device/device.h"
#include "io/weight_store.h"
#include "methods/trainer_method.h"
#include "model/loading.h"
#include "text/batch.h"
#include "train/train_options.h"
#include "util/error.h"
#include "text/length_batching.h"
#include "util/torch_compat.h"

namespace qsenti {

const char* to_string(SeqClsRecipe r) {
  return r == SeqClsRecipe::kTransformers ? "transformers" : "append-endoftext";
}

SeqClsEncoding SeqClsEncoding::from_manifest(const nlohmann::json& extra, int64_t default_max_length) {
  SeqClsEncoding e;
  const std::string recipe = extra.value("recipe", std::string("append-endoftext"));
  if (recipe == "transformers") e.recipe = SeqClsRecipe::kTransformers;
  else if (recipe == "append-endoftext") e.recipe = SeqClsRecipe::kAppendEndOfText;
  else throw InputError("manifest.json: unknown classifier recipe \"" + recipe +
                        "\" (this qsenti knows \"transformers\" and \"append-endoftext\"; a newer qsenti wrote it?)");
  e.pad_id = static_cast<int32_t>(extra.value("pad_token_id", int64_t{kQwen3EndOfTextId}));
  e.max_length = extra.value("max_length", default_max_length);
  return e;
}

void SeqClsEncoding::to_manifest(nlohmann::json& extra) const {
  extra["recipe"] = to_string(recipe);
  extra["pad_token_id"] = pad_id;
  extra["max_length"] = max_length;
}

std::pair<torch::Tensor, torch::Tensor> SeqClsEncoding::pad(const std::vector<std::vector<int32_t>>& ids) const {
  TokenBatch tb = pad_batch(ids, pad_id, PadSide::kRight);
  return {tb.input_ids, tb.attention_mask};
}

torch::Tensor SeqClsEncoding::pool_index(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) const {
  // transformers: (arange(T) * (ids != pad)).argmax(-1); all-pad rows give 0.
  if (recipe == SeqClsRecipe::kTransformers) return last_non_pad_index(input_ids, pad_id);
  return last_token_index(attention_mask);
}

torch::Tensor seqcls_logits(Qwen3& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            const torch::Tensor& pool, bool checkpoint_layers) {
  ForwardArgs args;
  args.input_ids = input_ids;
  args.attention_mask = attention_mask;
  args.checkpoint_layers = checkpoint_layers;
  args.final_positions = pool;  // the last layer runs the pooled token only
  torch::Tensor pooled = model->forward(args).last_hidden_state.select(1, 0);
  return model->score_logits(pooled).to(torch::kFloat32);
}

std::vector<std::vector<int32_t>> seqcls_encode(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                const SeqClsEncoding& e) {
  if (e.recipe == SeqClsRecipe::kTransformers) {
    auto ids = tokenizer.encode_batch(texts, SpecialTokens::kAsText, std::max<int64_t>(1, e.max_length));
    for (auto& s : ids)
      if (s.empty()) s.push_back(e.pad_id);
    return ids;
  }
  auto ids = tokenizer.encode_batch(texts, SpecialTokens::kAsText, std::max<int64_t>(0, e.max_length - 1));
  for (auto& s : ids) s.push_back(tokenizer.endoftext_id() >= 0 ? tokenizer.endoftext_id() : kQwen3EndOfTextId);
  return ids;
}

int64_t seqcls_count_truncated(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               const SeqClsEncoding& e) {
  const int64_t limit = e.recipe == SeqClsRecipe::kTransformers ? std::max<int64_t>(1, e.max_length)
                                                                 : std::max<int64_t>(0, e.max_length - 1);
  int64_t n = 0;
  for (const auto& ids : tokenizer.encode_batch(texts, SpecialTokens::kAsText, limit + 1))
    n += static_cast<int64_t>(ids.size()) > limit;
  return n;
}

std::vector<TrainableParameter> seqcls_trainable_parameters(Qwen3& model, bool full) {
  std::vector<TrainableParameter> out;
  for (auto& item : model->named_parameters(true)) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    const bool is_lora = name.find("lora_") != std::string::npos;
    const bool is_score = name.rfind("score.", 0) == 0;
    bool train = full ? (name.rfind("lm_head.", 0) != 0 && !is_lora) : (is_lora || is_score);
    p.set_requires_grad(train);
    if (!train) continue;
    const bool no_decay = name.find("norm") != std::string::npos ||
                         (name.size() >= 5 && name.substr(name.size() - 5) == ".bias");
    out.push_back({name, p, !no_decay});
  }
  return out;
}

torch::Tensor seqcls_predict(Qwen3& model, const std::vector<std::vector<int32_t>>& ids,
                             const SeqClsEncoding& encoding, int64_t batch_size, bool bf16_autocast) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<int64_t> lengths;
  for (const auto& s : ids) lengths.push_back(static_cast<int64_t>(s.size()));
  const int64_t k = model->config.num_labels;
  torch::Tensor probs = torch::zeros({static_cast<int64_t>(ids.size()), k}, torch::kFloat32);
  for (const auto& batch : sorted_batches(lengths, batch_size)) {
    std::vector<std::vector<int32_t>> seqs;
    for (size_t i : batch) seqs.push_back(ids[i]);
    auto [input_ids, mask] = encoding.pad(seqs);
    torch::Tensor logits;
    {
      compat::Autocast autocast(model->device().type(), bf16_autocast);
      logits = seqcls_logits(model, input_ids, mask, encoding.pool_index(input_ids, mask));
    }
    torch::Tensor p = torch::softmax(logits, -1).to(torch::kCPU);
    std::vector<int64_t> rows(batch.begin(), batch.end());
    probs.index_copy_(0, torch::tensor(rows, torch::kInt64), p);
  }
  if (was_training) model->train();
  return probs;
}

// Builds the model to train: fp32 master weights for --full; for LoRA the
// frozen base in the compute dtype (bf16 stays memory-mapped) and fp32 adapters
// and head.
Qwen3 build_seqcls_model(const TrainOptions& o, int64_t num_labels) {
  const bool bf16 = o.dtype == "bf16";
  LoadOptions lo;
  lo.dtype = (o.full || !bf16) ? torch::kFloat32 : torch::kBFloat16;
  lo.device = resolve_device(o.device);
  lo.score_head = true;
  lo.num_labels = num_labels;
  torch::manual_seed(o.seed);
  Qwen3 model = load_qwen3(o.model, lo);
  if (model->config.num_labels != num_labels)
    throw InputError(o.model + ": its score head has " + std::to_string(model->config.num_labels) +
                     " labels, the data has " + std::to_string(num_labels));
  {
    torch::NoGradGuard ng;
    WeightStore store(o.model);
    if (!store.contains("score.weight")) {
      // A new head, initialised as transformers does (normal, std 0.02) from --seed.
      // Drawn on the CPU: the same head on every device.
      model->score->weight.set_data((torch::randn(model->score->weight.sizes(), torch::kFloat32) * 0.02).to(lo.device));
    } else {
      model->score->weight.set_data(model->score->weight.to(torch::kFloat32));
    }
    if (o.full) {
      // Own copies: the optimizer writes into them every step.
      for (auto& p : model->parameters()) p.set_data(p.clone());
    }
  }
  if (!o.full) add_lora_adapters(model, o);
  return model;
}

}  // namespace qsenti
