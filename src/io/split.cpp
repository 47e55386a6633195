#include "io/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "util/error.h"

namespace qsenti {

Split stratified_split(const std::vector<int64_t>& labels, double valid_fraction, uint64_t seed) {
  if (!(valid_fraction >= 0.0 && valid_fraction < 1.0)) {
    throw Error("validation fraction must be in [0, 1), got " + std::to_string(valid_fraction),
                ExitCode::kUsage);
  }
  std::map<int64_t, std::vector<size_t>> by_class;  // ascending label order
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);

  // Largest-remainder apportionment of round(N * f) validation examples.
  struct Share {
    std::vector<size_t>* indices;
    size_t valid;
    double remainder;
  };
  std::vector<Share> shares;
  const auto total = static_cast<size_t>(std::llround(labels.size() * valid_fraction));
  size_t assigned = 0;
  for (auto& [label, indices] : by_class) {
    const double quota = indices.size() * valid_fraction;
    const auto base = static_cast<size_t>(std::floor(quota));
    shares.push_back({&indices, base, quota - base});
    assigned += base;
  }
  std::vector<size_t> order(shares.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return shares[a].remainder > shares[b].remainder;
  });
  for (size_t k = 0; k < order.size() && assigned < total; ++k, ++assigned) {
    ++shares[order[k]].valid;
  }
  for (auto& s : shares) {
    const size_t n = s.indices->size();
    if (n < 2) {
      s.valid = 0;
    } else if (valid_fraction > 0.0) {
      s.valid = std::clamp<size_t>(s.valid, 1, n - 1);
    }
  }

  std::mt19937_64 rng(seed);
  Split split;
  for (auto& s : shares) {
    fisher_yates_shuffle(*s.indices, rng);
    split.valid.insert(split.valid.end(), s.indices->begin(), s.indices->begin() + s.valid);
    split.train.insert(split.train.end(), s.indices->begin() + s.valid, s.indices->end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.valid.begin(), split.valid.end());
  return split;
}

}  // namespace qsenti
