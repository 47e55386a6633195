#pragma once
// Batches of similar length, in a seeded random order: examples are shuffled,
// cut into pools of `pool_batches` batches, each pool is sorted by length and
// cut into batches, and the batches are shuffled again. Padding stays small
// while the order stays random; the same (lengths, seed, epoch) always gives
// the same batches, which is what lets an interrupted run resume exactly.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qsenti {

struct BatchingOptions {
  int64_t batch_size = 32;
  uint64_t seed = 42;
  int64_t pool_batches = 64;  // batches per length-sorted pool (1 = no grouping)
  bool drop_last = false;     // keep the short final batch by default
};

// The batches of one epoch (indices into `lengths`). Uses std::mt19937_64 and
// fisher_yates_shuffle, so the order is the same with every standard library.
std::vector<std::vector<size_t>> length_grouped_batches(const std::vector<int64_t>& lengths, int64_t epoch,
                                                        const BatchingOptions& options);

// Padded tokens / real tokens - 1 for these batches (right padding to the
// longest example of each batch).
double padding_overhead(const std::vector<std::vector<size_t>>& batches, const std::vector<int64_t>& lengths);

// Tokens a batch plan pads: sum over batches of (longest * size - real).
int64_t padded_tokens(const std::vector<int64_t>& lengths, const std::vector<std::vector<size_t>>& batches);

// Inference batches of indices into `lengths`: sorted by length (longest
// first, ties by index) and cut after `batch_size` texts, or earlier where the
// next text would make the batch's padding exceed `max_padding` times its
// real tokens. So every batch, and the whole plan, pads at most that share
// (5% by default), whatever the length distribution; only the long tail gets
// smaller batches. Every index appears once; callers scatter results back.
std::vector<std::vector<size_t>> sorted_batches(const std::vector<int64_t>& lengths, int64_t batch_size,
                                                double max_padding = 0.05);

}  // namespace qsenti
