#include "text/tokenizer_json.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "text/pretokenizer.h"
#include "util/error.h"

namespace qsenti {
namespace {

using json = nlohmann::json;

std::string read_whole_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw InputError("tokenizer: cannot open " + path);
  std::string data;
  char buf[1 << 16];
  size_t got;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    long size = std::ftell(f.get());
    if (size > 0) data.reserve(static_cast<size_t>(size));
    std::fseek(f.get(), 0, SEEK_SET);
  }
  while ((got = std::fread(buf, 1, sizeof buf, f.get())) > 0) data.append(buf, got);
  if (std::ferror(f.get())) throw InputError("tokenizer: cannot read " + path);
  return data;
}

// SAX handler: "model.vocab" and "model.merges" (about 300k entries) go
// straight into TokenizerFile, skipping nlohmann's DOM, which would take
// several times longer; every other value is built into a small DOM.
class Reader : public nlohmann::json_sax<json> {
 public:
  Reader(TokenizerFile& out, std::string path) : out_(out), path_(std::move(path)) {}

  json root;
  std::string error;

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) return vocab_entry(v);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) {
      return vocab_entry(v > static_cast<number_unsigned_t>(INT32_MAX) ? -1
                                                                         : static_cast<int64_t>(v));
    }
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {
      const size_t sp = v.find(' ');
      if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos)
        return fail("model.merges: entry \"" + v + "\" is not two tokens separated by a space");
      out_.merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::kMergePair) {
      pair_.push_back(std::move(v));
      return true;
    }
    return value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return fail("unexpected binary value"); }

  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return fail(where() + ": unexpected object");
    if (at_model_field("vocab")) {
      value(json(nullptr));
      mode_ = Mode::kVocab;
      return true;
    }
    return open(json::object());
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    return close();
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      vocab_key_ = std::move(k);
      return true;
    }
    keys_.back() = std::move(k);
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kDom) return fail(where() + ": unexpected array");
    if (at_model_field("merges")) {
      value(json(nullptr));
      mode_ = Mode::kMerges;
      out_.merges.reserve(200000);
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      if (pair_.size() != 2) return fail("model.merges: an entry is not a pair of tokens");
      out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kDom;
      return true;
    }
    return close();
  }
  bool parse_error(std::size_t pos, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    if (error.empty()) error = "not valid JSON at byte " + std::to_string(pos) + ": " + ex.what();
    return false;
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };

  bool fail(const std::string& msg) {
    if (error.empty()) error = msg;
    return false;
  }
  std::string where() const {
    std::string w;
    for (size_t d = 0; d < stack_.size(); ++d) {
      if (stack_[d]->is_object()) {
        if (!w.empty()) w += '.';
        w += keys_[d];
      }
    }
    return w.empty() ? "top level" : w;
  }
  bool at_model_field(const char* name) const {
    return stack_.size() == 2 && keys_[0] == "model" && keys_[1] == name &&
           stack_[1]->is_object();
  }
  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX)
      return fail("model.vocab: id of \"" + vocab_key_ + "\" is out of range");
    out_.vocab.emplace_back(std::move(vocab_key_), static_cast<int32_t>(id));
    return true;
  }
  json* place(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json* top = stack_.back();
    if (top->is_object()) {
      json& slot = (*top)[keys_.back()];
      slot = std::move(v);
      return &slot;
    }
    top->push_back(std::move(v));
    return &top->back();
  }
  bool value(json&& v) {
    if (mode_ == Mode::kVocab)
      return fail("model.vocab: the id of \"" + vocab_key_ + "\" is not an integer");
    if (mode_ != Mode::kDom) return fail("model.merges: an entry is not a pair of tokens");
    place(std::move(v));
    return true;
  }
  bool open(json&& v) {
    stack_.push_back(place(std::move(v)));
    keys_.emplace_back();
    return true;
  }
  bool close() {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }

  TokenizerFile& out_;
  std::string path_;
  Mode mode_ = Mode::kDom;
  std::vector<json*> stack_;
  std::vector<std::string> keys_;
  std::string vocab_key_;
  std::vector<std::string> pair_;
};

// Small checked accessors over the DOM part.
struct Checker {
  const std::string& path;
  [[noreturn]] void fail(const std::string& msg) const {
    throw InputError("tokenizer " + path + ": " + msg);
  }
  const json& field(const json& obj, const char* name, const std::string& where) const {
    if (!obj.is_object()) fail(where + " is not an object");
    auto it = obj.find(name);
    if (it == obj.end()) fail(where + "." + name + " is missing");
    return *it;
  }
  std::string str(const json& obj, const char* name, const std::string& where) const {
    const json& v = field(obj, name, where);
    if (!v.is_string()) fail(where + "." + name + " is not a string");
    return v.get<std::string>();
  }
  // Optional boolean: `dflt` when absent or null.
  bool flag(const json& obj, const char* name, bool dflt, const std::string& where) const {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) fail(where + "." + name + " is not true/false");
    return it->get<bool>();
  }
  void expect_flag(const json& obj, const char* name, bool want, const std::string& where) const {
    if (flag(obj, name, want, where) != want)
      fail(where + "." + name + " = " + (want ? "false" : "true") + " is not supported");
  }
};

void check_normalizer(const Checker& c, const json& root, TokenizerFile& out) {
  auto it = root.find("normalizer");
  if (it == root.end() || it->is_null()) {
    out.nfc = false;
    return;
  }
  const std::string type = c.str(*it, "type", "normalizer");
  if (type != "NFC") c.fail("normalizer \"" + type + "\" is not supported (only NFC or none)");
  out.nfc = true;
}

void check_byte_level(const Checker& c, const json& obj, const std::string& where) {
  c.expect_flag(obj, "add_prefix_space", false, where);
  c.expect_flag(obj, "use_regex", false, where);
}

void check_pre_tokenizer(const Checker& c, const json& root) {
  const json& pt = c.field(root, "pre_tokenizer", "top level");
  const std::string msg =
      "pre_tokenizer: only Sequence[Split(the Qwen3 regex, Isolated), "
      "ByteLevel(use_regex=false)] is supported";
  if (!pt.is_object() || c.str(pt, "type", "pre_tokenizer") != "Sequence") c.fail(msg);
  const json& seq = c.field(pt, "pretokenizers", "pre_tokenizer");
  if (!seq.is_array() || seq.size() != 2) c.fail(msg);
  const json& split = seq[0];
  if (c.str(split, "type", "pre_tokenizer[0]") != "Split") c.fail(msg);
  const json& pattern = c.field(split, "pattern", "pre_tokenizer[0]");
  if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string() ||
      pattern["Regex"].get<std::string>() != kQwen3PretokenizerRegex)
    c.fail("pre_tokenizer[0]: the split pattern is not the Qwen3 regex");
  if (c.str(split, "behavior", "pre_tokenizer[0]") != "Isolated") c.fail(msg);
  c.expect_flag(split, "invert", false, "pre_tokenizer[0]");
  if (c.str(seq[1], "type", "pre_tokenizer[1]") != "ByteLevel") c.fail(msg);
  check_byte_level(c, seq[1], "pre_tokenizer[1]");
}

void check_decoder(const Checker& c, const json& root) {
  auto it = root.find("decoder");
  if (it == root.end() || it->is_null()) return;  // decode() is byte-level regardless
  if (c.str(*it, "type", "decoder") != "ByteLevel")
    c.fail("decoder \"" + (*it)["type"].dump() + "\" is not supported (only ByteLevel)");
}

void check_model(const Checker& c, const json& root, TokenizerFile& out) {
  const json& model = c.field(root, "model", "top level");
  if (!model.is_object()) c.fail("model is not an object");
  auto type = model.find("type");
  if (type != model.end() && !(type->is_string() && type->get<std::string>() == "BPE"))
    c.fail("model.type " + type->dump() + " is not supported (only BPE)");
  if (!model.contains("vocab") || !model.contains("merges"))
    c.fail("model.vocab or model.merges is missing");
  auto dropout = model.find("dropout");
  if (dropout != model.end() && !dropout->is_null() &&
      !(dropout->is_number() && dropout->get<double>() == 0.0))
    c.fail("model.dropout is not supported (encoding would not be deterministic)");
  for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(name);
    if (it != model.end() && !it->is_null() &&
        !(it->is_string() && it->get<std::string>().empty()))
      c.fail(std::string("model.") + name + " is not supported");
  }
  out.ignore_merges = c.flag(model, "ignore_merges", false, "model");
}

void read_added_tokens(const Checker& c, const json& root, TokenizerFile& out) {
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return;
  if (!it->is_array()) c.fail("added_tokens is not an array");
  for (size_t k = 0; k < it->size(); ++k) {
    const json& t = (*it)[k];
    const std::string where = "added_tokens[" + std::to_string(k) + "]";
    const json& id = c.field(t, "id", where);
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      c.fail(where + ".id is not a valid id");
    std::string content = c.str(t, "content", where);
    if (content.empty()) c.fail(where + ".content is empty");
    for (const char* name : {"lstrip", "rstrip", "single_word", "normalized"})
      c.expect_flag(t, name, false, where);
    out.added_tokens.push_back(TokenizerFile::AddedToken{
        static_cast<int32_t>(id.get<int64_t>()), std::move(content),
        c.flag(t, "special", false, where)});
  }
}

}  // namespace

TokenizerFile read_tokenizer_json(const std::string& path) {
  const std::string data = read_whole_file(path);
  TokenizerFile out;
  out.vocab.reserve(160000);
  Reader reader(out, path);
  bool ok = false;
  try {
    ok = json::sax_parse(data, &reader);
  } catch (const json::exception& e) {
    throw InputError("tokenizer " + path + ": " + e.what());
  }
  if (!ok) throw InputError("tokenizer " + path + ": " + (reader.error.empty() ? "not valid JSON" : reader.error));
  const Checker c{path};
  if (!reader.root.is_object()) c.fail("the top level is not an object");
  check_model(c, reader.root, out);
  check_normalizer(c, reader.root, out);
  check_pre_tokenizer(c, reader.root);
  check_decoder(c, reader.root);
  read_added_tokens(c, reader.root, out);
  if (out.vocab.empty()) c.fail("model.vocab is empty");
  return out;
}

}  // namespace qsenti
