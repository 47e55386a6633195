#include "text/tokenizer.h"

#include <ATen/Parallel.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <unordered_map>

#include "text/bpe.h"
#include "text/byte_level.h"
#include "text/pretokenizer.h"
#include "text/tokenizer_json.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "util/assets.h"
#include "util/error.h"

namespace qsenti {

namespace fs = std::filesystem;

struct Tokenizer::Impl {
  enum Kind : uint8_t { kUnknown = 0, kModel = 1, kAdded = 2, kSpecial = 3 };
  struct Added {
    std::string content;
    int32_t id;
  };

  std::string path;
  std::unordered_map<std::string, int32_t> token_ids;  // vocabulary and added tokens
  std::vector<const std::string*> tokens;              // by id; keys of token_ids
  std::vector<Kind> kind;                              // by id
  std::string bytes;                                   // decoded bytes of every id, ...
  std::vector<uint32_t> bytes_at;                      // ... id k at [bytes_at[k], bytes_at[k+1])
  std::unique_ptr<BpeModel> bpe;
  bool nfc = true;
  bool ignore_merges = false;
  std::vector<Added> added;                        // longest first
  std::array<std::vector<uint16_t>, 256> by_first;  // indices into `added` by first byte
  int32_t endoftext = -1, im_start = -1, im_end = -1;

  static std::unique_ptr<Impl> build(TokenizerFile&& file, const std::string& path);
  void encode_segment(std::string_view text, std::vector<int32_t>& out) const;
  void encode(std::string_view text, SpecialTokens mode, std::vector<int32_t>& out) const;
  // Length of the longest added token at text[i..], 0 if none; its id in *id.
  size_t added_at(std::string_view text, size_t i, int32_t* id) const;
};

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw InputError("tokenizer " + path + ": " + msg);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

}  // namespace

std::unique_ptr<Tokenizer::Impl> Tokenizer::Impl::build(TokenizerFile&& file,
                                                        const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->nfc = file.nfc;
  impl->ignore_merges = file.ignore_merges;

  int64_t max_id = -1;
  for (const auto& [tok, id] : file.vocab) max_id = std::max<int64_t>(max_id, id);
  for (const auto& a : file.added_tokens) max_id = std::max<int64_t>(max_id, a.id);
  if (max_id >= (int64_t{1} << 24)) fail(path, "an id is implausibly large (" + std::to_string(max_id) + ")");
  const size_t n_ids = static_cast<size_t>(max_id + 1);
  impl->tokens.assign(n_ids, nullptr);
  impl->kind.assign(n_ids, Impl::kUnknown);
  impl->token_ids.reserve(file.vocab.size() + file.added_tokens.size());

  for (auto& [tok, id] : file.vocab) {
    if (impl->tokens[id] != nullptr)
      fail(path, "model.vocab: id " + std::to_string(id) + " is used twice");
    auto [it, fresh] = impl->token_ids.emplace(std::move(tok), id);
    if (!fresh) fail(path, "model.vocab: token \"" + it->first + "\" is listed twice");
    impl->tokens[id] = &it->first;
    impl->kind[id] = Impl::kModel;
  }
  file.vocab = {};

  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    std::string s;
    utf8::append(s, byte_level::char_of_byte(static_cast<uint8_t>(b)));
    auto it = impl->token_ids.find(s);
    if (it == impl->token_ids.end())
      fail(path, "model.vocab lacks the byte-level token \"" + s + "\" for byte " + std::to_string(b));
    byte_ids[b] = it->second;
  }

  std::vector<BpeModel::Merge> merges;
  merges.reserve(file.merges.size());
  std::string joined;
  const auto lookup = [&](const std::string& t, size_t rank) {
    auto it = impl->token_ids.find(t);
    if (it == impl->token_ids.end())
      fail(path, "model.merges[" + std::to_string(rank) + "]: token \"" + t + "\" is not in the vocabulary");
    return it->second;
  };
  for (size_t r = 0; r < file.merges.size(); ++r) {
    const auto& [a, b] = file.merges[r];
    joined.assign(a).append(b);
    merges.push_back(BpeModel::Merge{lookup(a, r), lookup(b, r), lookup(joined, r)});
  }
  file.merges = {};
  try {
    impl->bpe = std::make_unique<BpeModel>(byte_ids, merges, static_cast<int32_t>(n_ids));
  } catch (const std::length_error& e) {
    fail(path, e.what());
  }

  for (auto& a : file.added_tokens) {
    auto it = impl->token_ids.find(a.content);
    if (it != impl->token_ids.end() && it->second != a.id)
      fail(path, "added token \"" + a.content + "\" has id " + std::to_string(a.id) +
                     " but the vocabulary gives it " + std::to_string(it->second));
    if (it == impl->token_ids.end()) {
      if (impl->tokens[a.id] != nullptr)
        fail(path, "added token \"" + a.content + "\" reuses id " + std::to_string(a.id) +
                       " of \"" + *impl->tokens[a.id] + "\"");
      it = impl->token_ids.emplace(a.content, a.id).first;
      impl->tokens[a.id] = &it->first;
    }
    impl->kind[a.id] = a.special ? Impl::kSpecial : Impl::kAdded;
    impl->added.push_back(Impl::Added{a.content, a.id});
  }
  std::stable_sort(impl->added.begin(), impl->added.end(),
                   [](const Impl::Added& x, const Impl::Added& y) {
                     return x.content.size() > y.content.size();
                   });
  if (impl->added.size() > 65535) fail(path, "too many added tokens");
  for (size_t k = 0; k < impl->added.size(); ++k)
    impl->by_first[static_cast<uint8_t>(impl->added[k].content[0])].push_back(
        static_cast<uint16_t>(k));

  // Decoded bytes of every id. Added tokens go through the byte-level map
  // too, as in Hugging Face's ByteLevel decoder (no difference for ASCII).
  impl->bytes_at.reserve(n_ids + 1);
  impl->bytes.reserve(n_ids * 7);
  for (size_t id = 0; id < n_ids; ++id) {
    impl->bytes_at.push_back(static_cast<uint32_t>(impl->bytes.size()));
    if (impl->tokens[id]) impl->bytes += byte_level::decode(*impl->tokens[id]);
  }
  impl->bytes_at.push_back(static_cast<uint32_t>(impl->bytes.size()));

  const auto id_of = [&](const char* t) {
    auto it = impl->token_ids.find(t);
    return it == impl->token_ids.end() ? -1 : it->second;
  };
  impl->endoftext = id_of("<|endoftext|>");
  impl->im_start = id_of("<|im_start|>");
  impl->im_end = id_of("<|im_end|>");
  return impl;
}

size_t Tokenizer::Impl::added_at(std::string_view text, size_t i, int32_t* id) const {
  const std::string_view rest = text.substr(i);
  for (uint16_t k : by_first[static_cast<uint8_t>(text[i])]) {  // longest first
    const Added& a = added[k];
    if (rest.size() >= a.content.size() &&
        rest.compare(0, a.content.size(), a.content) == 0) {
      *id = a.id;
      return a.content.size();
    }
  }
  return 0;
}

void Tokenizer::Impl::encode_segment(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string normalized;
  if (nfc && unicode::nfc_if_needed(text, normalized)) text = normalized;
  thread_local std::vector<std::string_view> pieces;
  pieces.clear();
  pretokenize(text, pieces);
  if (!ignore_merges) {
    for (std::string_view p : pieces) bpe->encode_word(p, out);
    return;
  }
  for (std::string_view p : pieces) {
    auto it = token_ids.find(byte_level::encode(p));
    if (it != token_ids.end() && kind[it->second] == kModel) {
      out.push_back(it->second);
    } else {
      bpe->encode_word(p, out);
    }
  }
}

void Tokenizer::Impl::encode(std::string_view text, SpecialTokens mode,
                             std::vector<int32_t>& out) const {
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = sanitize_utf8(text);
    text = repaired;
  }
  if (mode == SpecialTokens::kAsText || added.empty()) {
    encode_segment(text, out);
    return;
  }
  // Split on added tokens first (leftmost, then longest, on the text before
  // normalisation, as tokenizers' AddedVocabulary does); the pieces between
  // them are encoded on their own.
  size_t seg = 0;
  for (size_t i = 0; i < text.size();) {
    int32_t id;
    if (!by_first[static_cast<uint8_t>(text[i])].empty()) {
      if (size_t len = added_at(text, i, &id)) {
        encode_segment(text.substr(seg, i - seg), out);
        out.push_back(id);
        i += len;
        seg = i;
        continue;
      }
    }
    ++i;
  }
  encode_segment(text.substr(seg), out);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::string& path) {
  if (!is_file(path)) throw InputError("tokenizer " + path + ": no such file");
  auto impl = Impl::build(read_tokenizer_json(path), path);
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

std::shared_ptr<const Tokenizer> Tokenizer::for_model(const std::string& model_dir) {
  if (model_dir.empty()) return from_file(default_path());
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec))
    throw InputError("model directory " + model_dir + " does not exist");
  const fs::path own = fs::path(model_dir) / "tokenizer.json";
  return from_file(is_file(own) ? own.string() : default_path());
}

std::string Tokenizer::default_path() {
  return (fs::path(assets_dir()) / "qwen3-tokenizer" / "tokenizer.json").string();
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, SpecialTokens mode) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 2 + 4);
  impl_->encode(text, mode, out);
  return out;
}

void Tokenizer::encode_into(std::string_view text, SpecialTokens mode,
                            std::vector<int32_t>& out) const {
  impl_->encode(text, mode, out);
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          SpecialTokens mode,
                                                          int64_t max_len) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  at::parallel_for(0, static_cast<int64_t>(texts.size()), 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      auto& ids = out[static_cast<size_t>(k)];
      ids = encode(texts[static_cast<size_t>(k)], mode);
      if (max_len >= 0 && ids.size() > static_cast<size_t>(max_len))
        ids.resize(static_cast<size_t>(max_len));
    }
  });
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string raw;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= m.kind.size()) continue;
    if (m.kind[id] == Impl::kUnknown) continue;
    if (skip_special && m.kind[id] == Impl::kSpecial) continue;
    raw.append(m.bytes, m.bytes_at[id], m.bytes_at[id + 1] - m.bytes_at[id]);
  }
  if (is_valid_utf8(raw)) return raw;
  return sanitize_utf8(raw);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->token_ids.find(std::string(token));
  return it == impl_->token_ids.end() ? -1 : it->second;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->tokens.size() || !impl_->tokens[id]) return {};
  return *impl_->tokens[id];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->kind.size() &&
         impl_->kind[id] == Impl::kSpecial;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->tokens.size()); }
int32_t Tokenizer::endoftext_id() const { return impl_->endoftext; }
int32_t Tokenizer::im_start_id() const { return impl_->im_start; }
int32_t Tokenizer::im_end_id() const { return impl_->im_end; }
const std::string& Tokenizer::path() const { return impl_->path; }

}  // namespace qsenti
