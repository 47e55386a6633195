#include "model/linear.h"

#include "model/dropout.h"

#include <cmath>

namespace qsenti {

double LoraSpec::scaling() const { return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / r; }

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::linear(x, weight, bias);
  if (!has_lora() || merged_) return y;
  // As peft: the adapter runs in its own dtype (fp32 even over a bf16 base),
  // the sum is taken in the wider type and cast back to the base's dtype.
  // Dropout, x * mask / (1 - p), with the 1 / (1 - p) folded into the scaling.
  const bool drop = spec_.dropout > 0 && is_training();
  torch::Tensor h = (drop ? x * dropout_keep_mask(x, spec_.dropout) : x).to(lora_A->weight.scalar_type());
  const double scaling = drop ? spec_.scaling() / (1.0 - spec_.dropout) : spec_.scaling();
  torch::Tensor delta = lora_B(lora_A(h)) * scaling;
  return (y.to(delta.scalar_type()) + delta).to(y.scalar_type());
}

void LinearImpl::add_lora(const LoraSpec& spec) {
  TORCH_CHECK(!has_lora(), "LoRA adapter added twice");
  TORCH_CHECK(spec.r > 0, "LoRA rank must be positive");
  spec_ = spec;
  lora_A = register_module("lora_A", torch::nn::Linear(torch::nn::LinearOptions(in_features, spec.r).bias(false)));
  lora_B = register_module("lora_B", torch::nn::Linear(torch::nn::LinearOptions(spec.r, out_features).bias(false)));
  torch::NoGradGuard no_grad;
  // peft: nn.init.kaiming_uniform_(A, a=sqrt(5)) → bound = 1/sqrt(fan_in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  lora_A->weight.uniform_(-bound, bound);
  lora_B->weight.zero_();
  // Drawn on the CPU, so an adapter starts the same on every device.
  lora_A->to(weight.device());
  lora_B->to(weight.device());
}

torch::Tensor LinearImpl::lora_delta_weight() const {
  return torch::matmul(lora_B->weight.to(torch::kFloat32), lora_A->weight.to(torch::kFloat32)) * spec_.scaling();
}

void LinearImpl::merge_lora() {
  if (!has_lora() || merged_) return;
  torch::NoGradGuard no_grad;
  weight.set_data((weight.to(torch::kFloat32) + lora_delta_weight()).to(weight.scalar_type()));
  merged_ = true;
}

void LinearImpl::unmerge_lora() {
  if (!has_lora() || !merged_) return;
  torch::NoGradGuard no_grad;
  weight.set_data((weight.to(torch::kFloat32) - lora_delta_weight()).to(weight.scalar_type()));
  merged_ = false;
}

}  // namespace qsenti
