#pragma once
// Method C's model pieces, shared by training, prediction, tests and the
// benchmark: Qwen3ForSequenceClassification's forward (score head on the last
// real token), the classifier's tokenisation, and which parameters train.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "model/qwen3.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

namespace qsenti {

// <|endoftext|>: appended to every text as the pooling token, and the pad.
constexpr int32_t kSeqClsPadId = 151643;

// Class logits [B, K] in fp32 for a right- (or left-) padded batch: the
// backbone, then the score head at the last real token of each row (by the
// attention mask; for right padding with pads only at the end this equals
// transformers' last-non-pad pooling).
torch::Tensor seqcls_logits(Qwen3& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                            bool checkpoint_layers = false);

// The ids the classifier sees: the text as user data (special-token text stays
// text), its first max_length - 1 tokens, then <|endoftext|>.
std::vector<std::vector<int32_t>> seqcls_encode(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                int64_t max_length);

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
torch::Tensor seqcls_predict(Qwen3& model, const std::vector<std::vector<int32_t>>& ids, int64_t batch_size,
                             bool bf16_autocast);

}  // namespace qsenti
