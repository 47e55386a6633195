#include "methods/embedding_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "io/weight_store.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

namespace {

constexpr char kMagic[8] = {'Q', 'S', 'E', 'N', 'T', 'I', 'E', 'C'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8;
constexpr uint64_t kSecondSeed = 0x84222325cbf29ce4ull;  // a different FNV offset for the key's second half

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

std::string resolve_cache_root(const std::string& dir) {
  if (!dir.empty()) return dir;
  if (std::string v = env("QSENTI_CACHE"); !v.empty()) return v;
  if (std::string v = env("XDG_CACHE_HOME"); !v.empty()) return (fs::path(v) / "qsenti").string();
  if (std::string v = env("HOME"); !v.empty()) return (fs::path(v) / ".cache" / "qsenti").string();
  return ".qsenti-cache";
}

EmbeddingCache::Key EmbeddingCache::key_of(const std::string& text) {
  return {fnv1a64(text.data(), text.size()), fnv1a64(text.data(), text.size(), kSecondSeed)};
}

EmbeddingCache::EmbeddingCache(const std::string& root, const std::string& identity, int64_t dim, bool writable)
    : identity_(identity), identity_hash_(fnv1a64(identity.data(), identity.size())), dim_(dim), writable_(writable) {
  if (dim_ <= 0) throw Error("embedding cache: vector size must be positive");
  dir_ = (fs::path(root) / "embeddings" / hex64(identity_hash_)).string();
  const std::string id_path = (fs::path(dir_) / "identity.txt").string();
  std::error_code ec;
  if (fs::exists(id_path, ec)) {
    std::ifstream in(id_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str() != identity_) {
      // A 64-bit hash collision between two settings: keep them apart by not
      // using this folder at all.
      throw Error("embedding cache " + dir_ + " belongs to other settings (identity.txt differs); use --cache-dir or --no-cache");
    }
  } else if (writable_) {
    fs::create_directories(dir_, ec);
    if (ec) throw Error("embedding cache: cannot create " + dir_ + ": " + ec.message());
    write_text_atomically(id_path, identity_);
  }
  if (!fs::is_directory(dir_, ec)) return;
  std::vector<std::string> shards;
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.path().extension() == ".qec") shards.push_back(e.path().string());
  std::sort(shards.begin(), shards.end());
  for (const auto& s : shards) read_shard(s);
}

EmbeddingCache::~EmbeddingCache() {
  if (!shard_) return;
  // What was appended is worth keeping across a crash of the machine too.
  if (std::fflush(shard_) == 0) ::fsync(::fileno(shard_));
  std::fclose(shard_);
}

void EmbeddingCache::read_shard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // vanished or unreadable: a cache miss, not an error
  char header[kHeaderBytes];
  if (!in.read(header, kHeaderBytes)) return;  // torn before the first record
  uint32_t version, dim;
  uint64_t id_hash;
  std::memcpy(&version, header + 8, 4);
  std::memcpy(&dim, header + 12, 4);
  std::memcpy(&id_hash, header + 16, 8);
  if (std::memcmp(header, kMagic, 8) != 0 || version != kVersion || dim != dim_ || id_hash != identity_hash_) {
    ++dropped_;
    return;
  }
  const size_t data_bytes = static_cast<size_t>(dim_) * sizeof(float);
  const size_t record_bytes = 16 + data_bytes + 8;
  std::vector<char> rec(record_bytes);
  while (in.read(rec.data(), static_cast<std::streamsize>(record_bytes))) {
    uint64_t check;
    std::memcpy(&check, rec.data() + 16 + data_bytes, 8);
    if (fnv1a64(rec.data(), 16 + data_bytes) != check) {
      ++dropped_;  // damaged: records are fixed-size, so the next one is still aligned
      continue;
    }
    Key key;
    std::memcpy(key.data(), rec.data(), 16);
    auto [it, inserted] = index_.emplace(key, values_.size() / static_cast<size_t>(dim_));
    if (!inserted) continue;
    const float* v = reinterpret_cast<const float*>(rec.data() + 16);
    values_.insert(values_.end(), v, v + dim_);
  }
  if (in.gcount() > 0) ++dropped_;  // a torn last record
}

bool EmbeddingCache::lookup(const std::string& text, float* out) const {
  auto it = index_.find(key_of(text));
  if (it == index_.end()) return false;
  std::memcpy(out, values_.data() + it->second * static_cast<size_t>(dim_), static_cast<size_t>(dim_) * sizeof(float));
  return true;
}

bool EmbeddingCache::contains(const std::string& text) const { return index_.count(key_of(text)) > 0; }

void EmbeddingCache::open_shard() {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  shard_path_ = (fs::path(dir_) / ("shard-" + std::to_string(ms) + "-" + std::to_string(::getpid()) + "-" +
                                   std::to_string(counter++) + ".qec"))
                    .string();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  shard_ = std::fopen(shard_path_.c_str(), "wb");
  if (!shard_) throw Error("embedding cache: cannot write " + shard_path_ + ": " + std::strerror(errno));
  char header[kHeaderBytes];
  std::memcpy(header, kMagic, 8);
  const uint32_t version = kVersion, dim = static_cast<uint32_t>(dim_);
  std::memcpy(header + 8, &version, 4);
  std::memcpy(header + 12, &dim, 4);
  std::memcpy(header + 16, &identity_hash_, 8);
  std::fwrite(header, 1, kHeaderBytes, shard_);
  fsync_directory(dir_);  // the new shard's entry in the folder
}

void EmbeddingCache::append(const std::vector<const std::string*>& texts, const torch::Tensor& vectors) {
  if (!writable_ || texts.empty()) return;
  torch::Tensor v = vectors.to(torch::kFloat32).contiguous();
  if (v.dim() != 2 || v.size(0) != static_cast<int64_t>(texts.size()) || v.size(1) != dim_)
    throw Error("embedding cache: vectors do not match the texts or the cache's size");
  if (!shard_) open_shard();
  const size_t data_bytes = static_cast<size_t>(dim_) * sizeof(float);
  std::vector<char> rec(16 + data_bytes + 8);
  for (size_t i = 0; i < texts.size(); ++i) {
    const Key key = key_of(*texts[i]);
    const float* row = v.data_ptr<float>() + i * static_cast<size_t>(dim_);
    std::memcpy(rec.data(), key.data(), 16);
    std::memcpy(rec.data() + 16, row, data_bytes);
    const uint64_t check = fnv1a64(rec.data(), 16 + data_bytes);
    std::memcpy(rec.data() + 16 + data_bytes, &check, 8);
    if (std::fwrite(rec.data(), 1, rec.size(), shard_) != rec.size())
      throw Error("embedding cache: cannot write " + shard_path_ + " (disk full?)");
    auto [it, inserted] = index_.emplace(key, values_.size() / static_cast<size_t>(dim_));
    if (inserted) values_.insert(values_.end(), row, row + dim_);
  }
  // Per batch: an interrupted run keeps what it computed.
  if (std::fflush(shard_) != 0) throw Error("embedding cache: cannot write " + shard_path_ + ": " + std::strerror(errno));
}

std::string describe(const CachedEmbedStats& s) {
  if (!s.cache_used) return "embedding cache: off (" + std::to_string(s.misses) + " texts computed)";
  return "embedding cache: " + std::to_string(s.hits) + "/" + std::to_string(s.unique) + " hits (" + s.cache_dir + ")";
}

torch::Tensor embed_with_cache(Embedder& embedder, EmbeddingCache* cache, const std::vector<std::string>& texts,
                               CachedEmbedStats* stats) {
  const int64_t d = embedder.dim();
  if (cache && cache->dim() != d) throw Error("embedding cache: vector size differs from the model's");
  // Distinct texts, each computed (or read) once.
  std::unordered_map<std::string_view, size_t> first;
  std::vector<size_t> slot(texts.size());
  std::vector<size_t> uniq;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto [it, inserted] = first.emplace(std::string_view(texts[i]), uniq.size());
    if (inserted) uniq.push_back(i);
    slot[i] = it->second;
  }
  torch::Tensor u = torch::empty({static_cast<int64_t>(uniq.size()), d}, torch::kFloat32);
  float* up = u.data_ptr<float>();
  std::vector<size_t> missing;  // positions in uniq
  for (size_t k = 0; k < uniq.size(); ++k)
    if (!cache || !cache->lookup(texts[uniq[k]], up + k * static_cast<size_t>(d))) missing.push_back(k);

  if (!missing.empty()) {
    std::vector<std::string> todo;
    todo.reserve(missing.size());
    for (size_t k : missing) todo.push_back(texts[uniq[k]]);
    Embedder::BatchSink sink;
    if (cache && cache->writable()) {
      sink = [&](const std::vector<size_t>& idx, const torch::Tensor& vecs) {
        std::vector<const std::string*> keys;
        keys.reserve(idx.size());
        for (size_t j : idx) keys.push_back(&todo[j]);
        cache->append(keys, vecs);
      };
    }
    torch::Tensor computed = embedder.embed(todo, sink);
    torch::Tensor where = torch::tensor(std::vector<int64_t>(missing.begin(), missing.end()), torch::kInt64);
    u.index_copy_(0, where, computed);
  }
  if (stats) {
    stats->texts = static_cast<int64_t>(texts.size());
    stats->unique = static_cast<int64_t>(uniq.size());
    stats->misses = static_cast<int64_t>(missing.size());
    stats->hits = stats->unique - stats->misses;
    stats->cache_used = cache != nullptr;
    stats->cache_dir = cache ? cache->dir() : "";
  }
  return u.index_select(0, torch::tensor(std::vector<int64_t>(slot.begin(), slot.end()), torch::kInt64));
}

}  // namespace qsenti
