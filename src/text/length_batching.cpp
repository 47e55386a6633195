#include "text/length_batching.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "io/split.h"
#include "util/error.h"

namespace qsenti {

std::vector<std::vector<size_t>> length_grouped_batches(const std::vector<int64_t>& lengths, int64_t epoch,
                                                        const BatchingOptions& options) {
  if (options.batch_size <= 0) throw Error("batch size must be positive");
  const size_t bs = static_cast<size_t>(options.batch_size);
  // A separate stream per epoch, derived from the seed (splitmix-style mix so
  // neighbouring seeds and epochs do not give related streams).
  uint64_t mix = options.seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(epoch + 1);
  mix = (mix ^ (mix >> 30)) * 0xbf58476d1ce4e5b9ull;
  mix = (mix ^ (mix >> 27)) * 0x94d049bb133111ebull;
  std::mt19937_64 rng(mix ^ (mix >> 31));

  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  fisher_yates_shuffle(order, rng);

  const size_t pool = bs * static_cast<size_t>(std::max<int64_t>(1, options.pool_batches));
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += pool) {
    const size_t end = std::min(order.size(), start + pool);
    if (options.pool_batches > 1)
      std::stable_sort(order.begin() + start, order.begin() + end,
                       [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
    for (size_t b = start; b < end; b += bs) {
      const size_t e = std::min(end, b + bs);
      if (e - b < bs && options.drop_last) continue;
      batches.emplace_back(order.begin() + b, order.begin() + e);
    }
  }
  fisher_yates_shuffle(batches, rng);
  return batches;
}

double padding_overhead(const std::vector<std::vector<size_t>>& batches, const std::vector<int64_t>& lengths) {
  int64_t real = 0, padded = 0;
  for (const auto& b : batches) {
    int64_t longest = 0;
    for (size_t i : b) {
      real += lengths[i];
      longest = std::max(longest, lengths[i]);
    }
    padded += longest * static_cast<int64_t>(b.size());
  }
  return real == 0 ? 0.0 : static_cast<double>(padded) / static_cast<double>(real) - 1.0;
}

std::vector<std::vector<size_t>> sorted_batches(const std::vector<int64_t>& lengths, int64_t batch_size,
                                                double max_padding) {
  if (batch_size < 1) throw Error("batch size must be at least 1, got " + std::to_string(batch_size), ExitCode::kUsage);
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> batches;
  int64_t longest = 0, real = 0;
  for (size_t i : order) {
    if (!batches.empty()) {
      auto& b = batches.back();
      const int64_t n = static_cast<int64_t>(b.size()) + 1;
      const int64_t pad = longest * n - (real + lengths[i]);  // sorted: the first is the longest
      if (n <= batch_size && static_cast<double>(pad) <= max_padding * static_cast<double>(real + lengths[i])) {
        b.push_back(i);
        real += lengths[i];
        continue;
      }
    }
    batches.push_back({i});
    longest = real = lengths[i];
  }
  return batches;
}

int64_t padded_tokens(const std::vector<int64_t>& lengths, const std::vector<std::vector<size_t>>& batches) {
  int64_t pad = 0;
  for (const auto& b : batches) {
    int64_t longest = 0, real = 0;
    for (size_t i : b) {
      longest = std::max(longest, lengths[i]);
      real += lengths[i];
    }
    pad += longest * static_cast<int64_t>(b.size()) - real;
  }
  return pad;
}

}  // namespace qsenti
