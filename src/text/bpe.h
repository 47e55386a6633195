#pragma once
// Byte-level BPE merging: turns the bytes of one pre-token into token ids by
// applying the ranked merges in the same order as Hugging Face's `tokenizers`
// (the lowest-ranked adjacent pair first, the leftmost among equals), so the
// ids match theirs exactly.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace qsenti {

class BpeModel {
 public:
  struct Merge {
    int32_t left, right, result;
  };

  // byte_ids[b] is the id of the one-byte token for byte b; `merges` are in
  // rank order (rank = index). A pair listed twice keeps its last entry, as
  // Hugging Face's loader does. All ids must be below `id_limit`. Throws
  // std::length_error when ids and ranks are too many to pack (more than
  // 2^21 of either).
  BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges,
           int32_t id_limit);

  // Appends the ids for `word` (the raw bytes of one pre-token) to `out`.
  // Thread-safe.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  // Words up to this many bytes find each merge by scanning (fast for short
  // words); longer ones use a heap (O(n log n)). Both give the same ids.
  static constexpr size_t kMaxScanWord = 64;
  // The two strategies, public so that tests can compare them.
  void encode_word_scan(std::string_view word, std::vector<int32_t>& out) const;
  void encode_word_heap(std::string_view word, std::vector<int32_t>& out) const;

  size_t num_merges() const { return result_of_rank_.size(); }

 private:
  static constexpr uint32_t kNoRank = ~uint32_t{0};
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  // "Rank" below is any number that orders merges as their ranks do: the
  // merged token's id when ids grow with rank (true of Qwen3's file, and of
  // any vocabulary built in merge order), which spares a look-up per merge;
  // the rank itself otherwise.
  int32_t result_of(uint32_t rank) const {
    return rank_is_result_ ? static_cast<int32_t>(rank) : result_of_rank_[rank];
  }

  // Rank of the merge of (a, b), or kNoRank. Two small bitsets first answer
  // most misses: only about a fifth of the tokens ever appear on the left of
  // a merge, and fewer on the right. The table packs each entry as
  // (a << id_bits | b) << rank_bits | rank in one 64-bit word: half the size
  // of a key/value pair, so twice as much of it stays in cache.
  uint32_t rank_of(int32_t a, int32_t b) const {
    if (!((left_bits_[static_cast<uint32_t>(a) >> 6] >> (a & 63)) &
          (right_bits_[static_cast<uint32_t>(b) >> 6] >> (b & 63)) & 1u))
      return kNoRank;
    const uint64_t key = (static_cast<uint64_t>(a) << id_bits_) | static_cast<uint64_t>(b);
    for (size_t s = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);;
         s = (s + 1) & mask_) {
      const uint64_t e = table_[s];
      if ((e >> rank_bits_) == key) return static_cast<uint32_t>(e & rank_mask_);
      if (e == kEmpty) return kNoRank;
    }
  }
  uint32_t byte_pair_rank(uint8_t a, uint8_t b) const { return byte_pair_rank_[a * 256u + b]; }

  std::array<int32_t, 256> byte_ids_;
  // Ranks of merges of two one-byte tokens, by the two bytes: every word
  // starts with these pairs, and 256 KiB stays in cache.
  std::vector<uint32_t> byte_pair_rank_;
  std::vector<int32_t> result_of_rank_;
  bool rank_is_result_ = false;
  std::vector<uint64_t> left_bits_, right_bits_;  // ids that start / end a merge pair
  std::vector<uint64_t> table_;  // open addressing, linear probing
  unsigned id_bits_ = 0, rank_bits_ = 0, shift_ = 64;
  uint64_t rank_mask_ = 0;
  size_t mask_ = 0;
};

}  // namespace qsenti
