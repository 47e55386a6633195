#include "text/bpe.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace qsenti {
namespace {

unsigned bits_for(uint64_t count) {  // bits to hold values 0..count-1
  unsigned b = 1;
  while ((uint64_t{1} << b) < count) ++b;
  return b;
}

}  // namespace

BpeModel::BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges,
                   int32_t id_limit)
    : byte_ids_(byte_ids) {
  id_bits_ = bits_for(static_cast<uint64_t>(std::max(id_limit, 2)));
  rank_is_result_ = true;
  for (size_t r = 1; r < merges.size() && rank_is_result_; ++r)
    rank_is_result_ = merges[r - 1].result < merges[r].result;
  rank_bits_ = rank_is_result_ ? id_bits_ : bits_for(std::max<uint64_t>(merges.size(), 2));
  if (2 * id_bits_ + rank_bits_ > 63)
    throw std::length_error("BPE: too many tokens or merges to pack (" +
                            std::to_string(id_limit) + " ids, " + std::to_string(merges.size()) +
                            " merges)");
  rank_mask_ = (uint64_t{1} << rank_bits_) - 1;
  size_t cap = 16;
  unsigned bits = 4;
  while (cap < merges.size() + merges.size() / 2 + 1) {  // load factor <= 2/3
    cap *= 2;
    ++bits;
  }
  table_.assign(cap, kEmpty);
  mask_ = cap - 1;
  shift_ = 64 - bits;
  result_of_rank_.resize(merges.size());
  const size_t words = static_cast<size_t>(id_limit) / 64 + 1;
  left_bits_.assign(words, 0);
  right_bits_.assign(words, 0);
  for (size_t r = 0; r < merges.size(); ++r) {
    const Merge& m = merges[r];
    if (m.left < 0 || m.right < 0 || m.result < 0 || m.left >= id_limit || m.right >= id_limit ||
        m.result >= id_limit)
      throw std::length_error("BPE: merge with an id out of range");
    result_of_rank_[r] = m.result;
    left_bits_[static_cast<size_t>(m.left) >> 6] |= uint64_t{1} << (m.left & 63);
    right_bits_[static_cast<size_t>(m.right) >> 6] |= uint64_t{1} << (m.right & 63);
    const uint64_t value = rank_is_result_ ? static_cast<uint64_t>(m.result) : r;
    const uint64_t key = (static_cast<uint64_t>(m.left) << id_bits_) | static_cast<uint64_t>(m.right);
    size_t s = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (table_[s] != kEmpty && (table_[s] >> rank_bits_) != key) s = (s + 1) & mask_;
    table_[s] = (key << rank_bits_) | value;  // a repeated pair: the last one wins
  }
  byte_pair_rank_.assign(256 * 256, kNoRank);
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) byte_pair_rank_[a * 256 + b] = rank_of(byte_ids_[a], byte_ids_[b]);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  const auto* w = reinterpret_cast<const uint8_t*>(word.data());
  if (n == 1) {
    out.push_back(byte_ids_[w[0]]);
  } else if (n == 2) {
    const uint32_t r = byte_pair_rank(w[0], w[1]);
    if (r != kNoRank) {
      out.push_back(result_of(r));
    } else {
      out.push_back(byte_ids_[w[0]]);
      out.push_back(byte_ids_[w[1]]);
    }
  } else if (n <= kMaxScanWord) {
    encode_word_scan(word, out);
  } else {
    encode_word_heap(word, out);
  }
}

// Each step scans the ranks of all adjacent pairs for the lowest (the first
// among equals) and merges it: what tokenizers' heap pops next, since every
// current pair is in its heap and only current pairs pass its staleness test.
void BpeModel::encode_word_scan(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n == 0) return;
  const auto* w = reinterpret_cast<const uint8_t*>(word.data());
  struct Scratch {
    std::vector<uint32_t> rank;  // rank of the pair starting at k; kNoRank if none
    std::vector<int32_t> id, next, prev;
  };
  thread_local Scratch s;
  s.rank.resize(n);
  s.id.resize(n);
  s.next.resize(n);
  s.prev.resize(n);
  uint32_t* rank = s.rank.data();
  int32_t* id = s.id.data();
  int32_t* next = s.next.data();
  int32_t* prev = s.prev.data();
  for (size_t k = 0; k < n; ++k) {
    id[k] = byte_ids_[w[k]];
    next[k] = static_cast<int32_t>(k + 1);
    prev[k] = static_cast<int32_t>(k) - 1;
    rank[k] = k + 1 < n ? byte_pair_rank(w[k], w[k + 1]) : kNoRank;
  }
  next[n - 1] = -1;
  while (true) {
    uint32_t best = kNoRank;
    for (size_t k = 0; k < n; ++k) best = std::min(best, rank[k]);  // vectorised
    if (best == kNoRank) break;
    size_t k = 0;
    while (rank[k] != best) ++k;
    const int32_t right = next[k];
    id[k] = result_of(best);
    rank[right] = kNoRank;
    next[k] = next[right];
    if (next[k] >= 0) {
      prev[next[k]] = static_cast<int32_t>(k);
      rank[k] = rank_of(id[k], id[next[k]]);
    } else {
      rank[k] = kNoRank;
    }
    if (prev[k] >= 0) rank[prev[k]] = rank_of(id[prev[k]], id[k]);
  }
  for (int32_t k = 0; k >= 0; k = next[k]) out.push_back(id[k]);
}

// tokenizers' Word::merge_all: a heap of candidate merges ordered by (rank,
// position); an entry whose pair has changed since it was pushed is skipped.
void BpeModel::encode_word_heap(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n == 0) return;
  const auto* w = reinterpret_cast<const uint8_t*>(word.data());
  struct Symbol {
    int32_t id, prev, next;
    bool alive;
  };
  struct Candidate {
    uint32_t rank, pos;
    int32_t left, right;
  };
  // Heap order: lowest rank on top, then lowest position.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  struct Scratch {
    std::vector<Symbol> sym;
    std::vector<Candidate> heap;
  };
  thread_local Scratch s;
  auto& sym = s.sym;
  auto& heap = s.heap;
  sym.resize(n);
  heap.clear();
  for (size_t k = 0; k < n; ++k) {
    sym[k] = Symbol{byte_ids_[w[k]], static_cast<int32_t>(k) - 1,
                    k + 1 < n ? static_cast<int32_t>(k + 1) : -1, true};
  }
  for (size_t k = 0; k + 1 < n; ++k) {
    const uint32_t r = byte_pair_rank(w[k], w[k + 1]);
    if (r != kNoRank) heap.push_back(Candidate{r, static_cast<uint32_t>(k), sym[k].id, sym[k + 1].id});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  const auto push = [&](uint32_t pos, int32_t a, int32_t b) {
    const uint32_t r = rank_of(a, b);
    if (r == kNoRank) return;
    heap.push_back(Candidate{r, pos, a, b});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = sym[cur.next];
    // tokenizers looks the pair up again and compares the merged token; as
    // symbols only ever grow rightwards from a fixed start, that token can
    // only be the same if the pair is.
    if (cur.id != top.left || right.id != top.right) continue;  // stale
    cur.id = result_of(top.rank);
    cur.next = right.next;
    right.alive = false;
    if (right.next >= 0) sym[right.next].prev = static_cast<int32_t>(top.pos);
    if (cur.prev >= 0) push(static_cast<uint32_t>(cur.prev), sym[cur.prev].id, cur.id);
    if (cur.next >= 0) push(top.pos, cur.id, sym[cur.next].id);
  }
  for (int32_t k = 0; k >= 0; k = sym[k].next) out.push_back(sym[k].id);
}

}  // namespace qsenti
