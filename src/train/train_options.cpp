#include "train/train_options.h"

namespace qsenti {

SizeDefaults size_defaults(const std::string& size, const std::string& method) {
  // Method A: batch 32 / lr 1e-3 (0.6B), 16 / 5e-4 (4B), 8 / 2e-4 (8B).
  // LoRA r/alpha: 16/32, 32/64, 64/128.
  if (method == "embedding") {
    if (size == "4B") return {16, 5e-4, 32, 64};
    if (size == "8B") return {8, 2e-4, 64, 128};
    return {32, 1e-3, 16, 32};
  }
  if (size == "4B") return {8, 1e-4, 32, 64};
  if (size == "8B") return {4, 5e-5, 64, 128};
  return {16, 2e-4, 16, 32};
}

std::string infer_model_size(int64_t hidden_size) {
  if (hidden_size == 1024) return "0.6B";
  if (hidden_size == 2560) return "4B";
  if (hidden_size == 4096) return "8B";
  return "";
}

}  // namespace qsenti
