#include "text/bpe.h"

#include <algorithm>

namespace qsenti {

BpeModel::BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges)
    : byte_ids_(byte_ids), num_merges_(merges.size()) {
  size_t cap = 16;
  unsigned bits = 4;
  while (cap < merges.size() * 2 + 1) {
    cap *= 2;
    ++bits;
  }
  table_.assign(cap, Entry{kEmpty, 0, 0});
  mask_ = cap - 1;
  shift_ = 64 - bits;
  for (size_t r = 0; r < merges.size(); ++r) {
    const Merge& m = merges[r];
    const uint64_t key = key_of(m.left, m.right);
    size_t s = slot_of(key);
    while (table_[s].key != kEmpty && table_[s].key != key) s = (s + 1) & mask_;
    table_[s] = Entry{key, static_cast<uint32_t>(r), m.result};
  }
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};

struct Candidate {
  uint32_t rank;
  uint32_t pos;
  int32_t result;
};

// Heap order: lowest rank on top, then lowest position.
struct Later {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

}  // namespace

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n == 0) return;
  const auto byte = [&](size_t k) { return byte_ids_[static_cast<uint8_t>(word[k])]; };
  if (n == 1) {
    out.push_back(byte(0));
    return;
  }
  if (n == 2) {
    if (const Entry* e = find(byte(0), byte(1))) {
      out.push_back(e->result);
    } else {
      out.push_back(byte(0));
      out.push_back(byte(1));
    }
    return;
  }

  // The general case follows tokenizers' Word::merge_all: a heap of candidate
  // merges; an entry whose pair has changed since it was pushed is skipped.
  thread_local Scratch scratch;
  auto& sym = scratch.symbols;
  auto& heap = scratch.heap;
  sym.resize(n);
  heap.clear();
  for (size_t k = 0; k < n; ++k) {
    sym[k] = Symbol{byte(k), static_cast<int32_t>(k) - 1,
                    k + 1 < n ? static_cast<int32_t>(k + 1) : -1, true};
  }
  for (size_t k = 0; k + 1 < n; ++k) {
    if (const Entry* e = find(sym[k].id, sym[k + 1].id))
      heap.push_back(Candidate{e->rank, static_cast<uint32_t>(k), e->result});
  }
  std::make_heap(heap.begin(), heap.end(), Later{});
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), Later{});
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t right_pos = cur.next;
    Symbol& right = sym[right_pos];
    const Entry* e = find(cur.id, right.id);
    if (e == nullptr || e->result != top.result) continue;  // stale
    cur.id = top.result;
    cur.next = right.next;
    right.alive = false;
    if (right.next >= 0) sym[right.next].prev = static_cast<int32_t>(top.pos);
    if (cur.prev >= 0) {
      if (const Entry* pe = find(sym[cur.prev].id, cur.id)) {
        heap.push_back(Candidate{pe->rank, static_cast<uint32_t>(cur.prev), pe->result});
        std::push_heap(heap.begin(), heap.end(), Later{});
      }
    }
    if (cur.next >= 0) {
      if (const Entry* ne = find(cur.id, sym[cur.next].id)) {
        heap.push_back(Candidate{ne->rank, top.pos, ne->result});
        std::push_heap(heap.begin(), heap.end(), Later{});
      }
    }
  }
  for (int32_t k = 0; k >= 0; k = sym[k].next) out.push_back(sym[k].id);
}

}  // namespace qsenti
