#pragma once
// Byte-level BPE merging: turns the bytes of one pre-token into token ids by
// applying the ranked merges, with the same order of operations as Hugging
// Face's `tokenizers` (lowest rank first, then leftmost), so ids match theirs
// exactly.
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
  // Hugging Face's loader does.
  BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges);

  // Appends the ids for `word` (the raw bytes of one pre-token) to `out`.
  // Thread-safe.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  size_t num_merges() const { return num_merges_; }

 private:
  struct Entry {
    uint64_t key;
    uint32_t rank;
    int32_t result;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  static uint64_t key_of(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot_of(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  const Entry* find(int32_t a, int32_t b) const {
    const uint64_t key = key_of(a, b);
    for (size_t s = slot_of(key);; s = (s + 1) & mask_) {
      const Entry& e = table_[s];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }

  std::array<int32_t, 256> byte_ids_;
  std::vector<Entry> table_;  // open addressing, linear probing
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t num_merges_ = 0;
};

}  // namespace qsenti
