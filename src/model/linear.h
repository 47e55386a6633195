#pragma once
// A linear layer whose parameter names match Hugging Face's (`weight`,
// `bias`), with an optional LoRA adapter named as peft names it
// (`lora_A.weight` [r, in], `lora_B.weight` [out, r]).
#include <torch/torch.h>

namespace qsenti {

struct LoraSpec {
  int64_t r = 16;
  double alpha = 32;
  double dropout = 0.0;
  bool use_rslora = false;  // scaling alpha/sqrt(r) instead of alpha/r
  double scaling() const;
};

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias);

  torch::Tensor forward(const torch::Tensor& x);

  // Adds a LoRA adapter initialised as peft does: A Kaiming-uniform
  // (a = sqrt(5)), B zero, so the layer starts equal to the base.
  void add_lora(const LoraSpec& spec);
  bool has_lora() const { return !lora_A.is_empty(); }
  bool lora_merged() const { return merged_; }
  const LoraSpec& lora_spec() const { return spec_; }
  // Folds B·A·scaling into the weight (fast inference); unmerge undoes it.
  void merge_lora();
  void unmerge_lora();

  int64_t in_features, out_features;
  torch::Tensor weight, bias;
  torch::nn::Linear lora_A{nullptr}, lora_B{nullptr};

 private:
  torch::Tensor lora_delta_weight() const;
  LoraSpec spec_;
  bool merged_ = false;
};
TORCH_MODULE(Linear);

}  // namespace qsenti
