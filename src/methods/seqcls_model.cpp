#include "methods/seqcls_model.h"

#include "text/batch.h"
#include "train/batching.h"
#include "util/torch_compat.h"

namespace qsenti {

torch::Tensor seqcls_logits(Qwen3& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            bool checkpoint_layers) {
  ForwardArgs args;
  args.input_ids = input_ids;
  args.attention_mask = attention_mask;
  args.checkpoint_layers = checkpoint_layers;
  BackboneOutput out = model->forward(args);
  torch::Tensor pooled = gather_positions(out.last_hidden_state, last_token_index(attention_mask));
  return model->score_logits(pooled).to(torch::kFloat32);
}

std::vector<std::vector<int32_t>> seqcls_encode(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                int64_t max_length) {
  auto ids = tokenizer.encode_batch(texts, SpecialTokens::kAsText, std::max<int64_t>(0, max_length - 1));
  for (auto& s : ids) s.push_back(kSeqClsPadId);
  return ids;
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

torch::Tensor seqcls_predict(Qwen3& model, const std::vector<std::vector<int32_t>>& ids, int64_t batch_size,
                             bool bf16_autocast) {
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
    TokenBatch tb = pad_batch(seqs, kSeqClsPadId, PadSide::kRight);
    torch::Tensor logits;
    {
      compat::CpuAutocast autocast(bf16_autocast);
      logits = seqcls_logits(model, tb.input_ids, tb.attention_mask);
    }
    torch::Tensor p = torch::softmax(logits, -1);
    std::vector<int64_t> rows(batch.begin(), batch.end());
    probs.index_copy_(0, torch::tensor(rows, torch::kInt64), p);
  }
  if (was_training) model->train();
  return probs;
}

}  // namespace qsenti
