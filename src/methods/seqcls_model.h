#pragma once
// Method C's model pieces, shared by training, prediction, tests and the
// benchmark: Qwen3ForSequenceClassification's forward (score head on the last
// real token), the classifier's tokenisation, and which parameters train.
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <utility>
#include <string>
#include <vector>

#include "model/qwen3.h"
#include "text/qwen3_tokens.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

namespace qsenti {

// How a text becomes the classifier's ids, and where it is pooled. Runs name
// theirs in manifest.json ("recipe"), so each predicts as it was trained.
enum class SeqClsRecipe {
  // Transformers' Qwen3ForSequenceClassification: the text's ids as user data
  // (special-token text stays text), first max_length of them, nothing
  // appended; right padding with pad_id; pooled at the last token that is not
  // pad_id (transformers' rule). An empty text is one pad token, pooled at 0
  // as transformers pools an all-pad row.
  kTransformers,
  // Runs written before qsenti 0.2: first max_length - 1 ids, then
  // <|endoftext|> appended and pooled on (by the attention mask). Kept so old
  // runs keep their answers; transformers would pool one token earlier.
  kAppendEndOfText,
};

struct SeqClsEncoding {
  SeqClsRecipe recipe = SeqClsRecipe::kTransformers;
  int32_t pad_id = kQwen3EndOfTextId;  // the config's pad_token_id
  int64_t max_length = 256;

  // The recipe a run's manifest names (none: kAppendEndOfText, the old runs).
  static SeqClsEncoding from_manifest(const nlohmann::json& extra, int64_t default_max_length);
  void to_manifest(nlohmann::json& extra) const;
  // The batch of `ids` padded for this recipe (right padding with pad_id).
  std::pair<torch::Tensor, torch::Tensor> pad(const std::vector<std::vector<int32_t>>& ids) const;
  // [B] pooling positions for a padded batch.
  torch::Tensor pool_index(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) const;
};
const char* to_string(SeqClsRecipe r);

// Class logits [B, K] in fp32 for a right-padded batch: the backbone, then
// the score head at `pool` [B] (SeqClsEncoding::pool_index).
torch::Tensor seqcls_logits(Qwen3& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            const torch::Tensor& pool, bool checkpoint_layers = false);

// The ids the classifier sees for each text, as the recipe says.
std::vector<std::vector<int32_t>> seqcls_encode(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                const SeqClsEncoding& encoding);
// How many of `texts` seqcls_encode() cuts to the encoding's max_length.
int64_t seqcls_count_truncated(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               const SeqClsEncoding& encoding);

// Trainable parameters: every parameter for full fine-tuning (except an
// untied lm_head, which classification never uses), else the LoRA matrices
// and the score head. Sets requires_grad accordingly on all parameters.
// Norm weights and biases get no weight decay.
std::vector<TrainableParameter> seqcls_trainable_parameters(Qwen3& model, bool full);

// The model to train from options.model with the resolved options: fp32 master
// weights for --full (own copies, not the memory-mapped file); for LoRA the
// frozen base in the compute dtype (bf16 stays memory-mapped) with fp32
// adapters (options.lora_*) and an fp32 score head. A head the folder lacks is
// initialised as transformers does (normal, std 0.02) from options.seed.
struct TrainOptions;
Qwen3 build_seqcls_model(const TrainOptions& options, int64_t num_labels);

// Softmax probabilities [N, K] for `ids`, in batches sorted by length.
torch::Tensor seqcls_predict(Qwen3& model, const std::vector<std::vector<int32_t>>& ids,
                             const SeqClsEncoding& encoding, int64_t batch_size, bool bf16_autocast);

}  // namespace qsenti
