#pragma once
// Reproducible train/validation splits for when no validation file is given.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace qsenti {

struct Split {
  std::vector<size_t> train, valid;  // indices into the dataset, ascending
};

// A stratified, seeded random split: each class is shuffled on its own
// (Fisher-Yates driven by std::mt19937_64, whose output the C++ standard fixes,
// so the split is the same with every standard library) and its first share
// goes to validation. The validation size is round(N * valid_fraction),
// shared among classes in proportion to their size (largest remainder);
// then every class with >= 2 examples gets at least one validation example
// and keeps at least one for training. A class with a single example stays
// in training. valid_fraction must be in [0, 1); 0 gives an empty validation
// set. Labels may be any integers (they are only compared).
Split stratified_split(const std::vector<int64_t>& labels, double valid_fraction, uint64_t seed);

// Uniform integer in [0, bound) from `next` 64-bit words (bound > 0), by
// rejection: unbiased and independent of the standard library.
template <typename Engine>
uint64_t uniform_below(Engine& engine, uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;  // multiple of bound
  while (true) {
    const uint64_t x = static_cast<uint64_t>(engine());
    if (x < limit) return x % bound;
  }
}

// In-place Fisher-Yates shuffle with uniform_below.
template <typename T, typename Engine>
void fisher_yates_shuffle(std::vector<T>& v, Engine& engine) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_below(engine, i));
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace qsenti
