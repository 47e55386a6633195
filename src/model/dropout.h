#pragma once
// Dropout masks for the LoRA inputs, fast on CPU.
#include <torch/torch.h>

namespace qsenti {

// A mask of x's shape and dtype: 0 with probability p (rounded to a multiple
// of 1/65536: 0.05 -> 0.0500031), else 1. Dropout is x * mask / (1 - p); the
// LoRA layer folds the 1 / (1 - p) into its scaling, so the masked input
// stays exact in bf16.
// Why not torch::dropout: LibTorch 1.13 draws CPU Bernoulli samples one by
// one (22 ms for a [912, 1024] fp32 tensor), and a 0.6B LoRA step on q/k/v/o
// drops 112 of them: 1.7 s of a 4.7 s forward. Here one 64-bit draw gives
// three 16-bit samples: about 3 ms. Other devices use torch's Bernoulli.
torch::Tensor dropout_keep_mask(const torch::Tensor& x, double p);

}  // namespace qsenti
