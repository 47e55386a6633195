#pragma once
// An on-disk cache of text vectors, so that a second training run (another
// head, other epochs, another learning rate) on the same texts runs no
// forward pass at all.
//
// Layout: <root>/embeddings/<hex of hash(identity)>/
//   identity.txt          the Embedder::identity() the vectors belong to
//                         (model fingerprint, instruction, max_length, dtype)
//   shard-<time>-<pid>-<n>.qec
//                         append-only shards, one per writing process, so
//                         concurrent runs never interleave. Each holds a
//                         24-byte header ("QSENTIEC", u32 version 1, u32 dim,
//                         u64 hash of the identity) and fixed-size records:
//                         16-byte key (two 64-bit FNV-1a hashes of the text),
//                         dim little-endian fp32 values, u64 FNV-1a checksum
//                         of key and values.
// Records are written and flushed batch by batch, so an interrupted run keeps
// everything it computed; a torn last record (or a damaged one) fails its
// checksum or length check and is ignored when reading.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "methods/embedder.h"

namespace qsenti {

// `dir` when given, else $QSENTI_CACHE, else $XDG_CACHE_HOME/qsenti, else
// ~/.cache/qsenti (else ./.qsenti-cache when there is no home).
std::string resolve_cache_root(const std::string& dir = "");

class EmbeddingCache {
 public:
  // Reads every shard of `identity` under `root`. writable = false never
  // creates or writes anything (a missing folder is an empty cache).
  EmbeddingCache(const std::string& root, const std::string& identity, int64_t dim, bool writable);
  ~EmbeddingCache();
  EmbeddingCache(const EmbeddingCache&) = delete;
  EmbeddingCache& operator=(const EmbeddingCache&) = delete;

  const std::string& dir() const { return dir_; }
  int64_t dim() const { return dim_; }
  size_t size() const { return index_.size(); }
  bool writable() const { return writable_; }
  // Records dropped while reading: torn tails and damaged records.
  int64_t dropped_records() const { return dropped_; }

  // Copies the vector of `text` into `out` (dim() floats); false if absent.
  bool lookup(const std::string& text, float* out) const;
  bool contains(const std::string& text) const;
  // Appends one record per text (rows of `vectors` [n, dim], fp32) and
  // flushes. Does nothing when not writable.
  void append(const std::vector<const std::string*>& texts, const torch::Tensor& vectors);

 private:
  using Key = std::array<uint64_t, 2>;
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k[0] ^ (k[1] * 0x9e3779b97f4a7c15ull)); }
  };
  static Key key_of(const std::string& text);
  void read_shard(const std::string& path);
  void open_shard();

  std::string dir_;
  std::string identity_;
  uint64_t identity_hash_ = 0;
  int64_t dim_;
  bool writable_;
  std::unordered_map<Key, size_t, KeyHash> index_;  // key → row in values_
  std::vector<float> values_;
  int64_t dropped_ = 0;
  std::FILE* shard_ = nullptr;
  std::string shard_path_;
};

struct CachedEmbedStats {
  int64_t texts = 0;   // texts asked for
  int64_t unique = 0;  // distinct among them
  int64_t hits = 0;    // distinct texts found in the cache
  int64_t misses = 0;  // distinct texts computed
  bool cache_used = false;
  std::string cache_dir;
};
// "embedding cache: 9000/9000 hits (~/.cache/qsenti/embeddings/1a2b...)" or
// "embedding cache: off".
std::string describe(const CachedEmbedStats& s);

// Vectors [texts.size(), dim] for `texts`: those in `cache` (may be null)
// read from it, the others computed by `embedder` (each distinct text once)
// and appended to the cache batch by batch as they come.
torch::Tensor embed_with_cache(Embedder& embedder, EmbeddingCache* cache, const std::vector<std::string>& texts,
                               CachedEmbedStats* stats = nullptr);

}  // namespace qsenti
