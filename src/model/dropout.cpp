#include "model/dropout.h"

#include <cmath>

namespace qsenti {

torch::Tensor dropout_keep_mask(const torch::Tensor& x, double p) {
  if (!x.is_cpu()) return torch::empty_like(x).bernoulli_(1.0 - p);
  const int64_t n = x.numel();
  const int64_t draws_needed = (n + 2) / 3;
  // random_() on int64 is uniform over [0, 2^63): of each draw's four 16-bit
  // words (little-endian) the first three are uniform, the top one is not.
  torch::Tensor draws = torch::empty({draws_needed}, torch::kInt64).random_();
  torch::Tensor words =
      draws.view(torch::kInt16).view({draws_needed, 4}).narrow(1, 0, 3).reshape({-1}).narrow(0, 0, n);
  const int64_t threshold = -32768 + std::llround(p * 65536.0);  // words are signed
  return (words >= threshold).to(x.scalar_type()).view(x.sizes());
}

}  // namespace qsenti
