#include "export/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "util/error.h"

namespace qsenti {

namespace {

// Limits that keep a corrupt header from asking for absurd allocations.
constexpr uint64_t kMaxString = 1ull << 30;
constexpr uint64_t kMaxCount = 1ull << 32;

class Cursor {
 public:
  Cursor(std::ifstream& in, const std::string& path, uint64_t file_size)
      : in_(in), path_(path), file_size_(file_size) {}
  template <typename T>
  T get() {
    T v{};
    in_.read(reinterpret_cast<char*>(&v), sizeof v);
    if (!in_) throw InputError(path_ + ": truncated GGUF header");
    return v;
  }
  std::string string() {
    const uint64_t n = get<uint64_t>();
    // Checked against what is left of the file before allocating: a corrupt
    // length must not cost a gigabyte.
    if (n > kMaxString || n > left()) throw InputError(path_ + ": implausible string length " + std::to_string(n));
    std::string s(n, '\0');
    in_.read(s.data(), static_cast<std::streamsize>(n));
    if (!in_) throw InputError(path_ + ": truncated GGUF header");
    return s;
  }
  uint64_t pos() { return static_cast<uint64_t>(in_.tellg()); }
  uint64_t left() { return file_size_ - std::min(file_size_, pos()); }

 private:
  std::ifstream& in_;
  const std::string& path_;
  uint64_t file_size_;
};

nlohmann::json read_scalar(Cursor& c, GgufValueType t, const std::string& ctx) {
  switch (t) {
    case GgufValueType::kU8: return c.get<uint8_t>();
    case GgufValueType::kI8: return c.get<int8_t>();
    case GgufValueType::kU16: return c.get<uint16_t>();
    case GgufValueType::kI16: return c.get<int16_t>();
    case GgufValueType::kU32: return c.get<uint32_t>();
    case GgufValueType::kI32: return c.get<int32_t>();
    case GgufValueType::kU64: return c.get<uint64_t>();
    case GgufValueType::kI64: return c.get<int64_t>();
    case GgufValueType::kF32: return c.get<float>();
    case GgufValueType::kF64: return c.get<double>();
    case GgufValueType::kBool: return c.get<uint8_t>() != 0;
    case GgufValueType::kString: return c.string();
    default: throw InputError(ctx + ": unknown value type " + std::to_string(static_cast<uint32_t>(t)));
  }
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  in.seekg(0, std::ios::end);
  file_size_ = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  Cursor c(in, path, file_size_);
  if (c.get<uint32_t>() != 0x46554747) throw InputError(path + ": not a GGUF file (bad magic)");
  version_ = c.get<uint32_t>();
  if (version_ != 3) throw InputError(path + ": GGUF version " + std::to_string(version_) + ", expected 3");
  const uint64_t n_tensors = c.get<uint64_t>();
  const uint64_t n_kv = c.get<uint64_t>();
  if (n_tensors > kMaxCount || n_kv > kMaxCount) throw InputError(path + ": implausible tensor or key count");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string();
    const std::string ctx = path + ": key \"" + key + "\"";
    GgufValue v;
    v.type = static_cast<GgufValueType>(c.get<uint32_t>());
    if (v.type == GgufValueType::kArray) {
      v.element_type = static_cast<GgufValueType>(c.get<uint32_t>());
      const uint64_t n = c.get<uint64_t>();
      if (n > kMaxCount || n > c.left()) throw InputError(ctx + ": implausible array length");
      v.value = nlohmann::json::array();
      for (uint64_t j = 0; j < n; ++j) v.value.push_back(read_scalar(c, v.element_type, ctx));
    } else {
      v.value = read_scalar(c, v.type, ctx);
    }
    if (kv_.count(key)) throw InputError(ctx + ": appears twice");
    key_order_.push_back(key);
    kv_.emplace(std::move(key), std::move(v));
  }
  if (has("general.alignment")) {
    // Offsets are divided by it: a zero (or a string) must be refused here.
    const GgufValue& a = kv_.at("general.alignment");
    if (a.type != GgufValueType::kU32 || a.value.get<uint32_t>() == 0)
      throw InputError(path + ": general.alignment must be a positive uint32, got " +
                       a.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    alignment_ = a.value.get<uint32_t>();
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.string();
    const uint32_t nd = c.get<uint32_t>();
    if (nd == 0 || nd > 8) throw InputError(path + ": tensor \"" + t.name + "\" has " + std::to_string(nd) + " dimensions");
    t.shape.resize(nd);
    // The element count must fit an int64 and its bytes a uint64 (4 bytes an
    // element at most), whatever the dimensions claim; the nonzero ones are
    // bounded too, so that no partial product (in any order) overflows.
    uint64_t numel = 1, nonzero = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t dim = c.get<uint64_t>();
      if (dim != 0 && nonzero > (uint64_t{1} << 60) / dim)
        throw InputError(path + ": tensor \"" + t.name + "\" has an implausible shape");
      if (dim != 0) nonzero *= dim;
      numel *= dim;
      t.shape[nd - 1 - d] = static_cast<int64_t>(dim);
    }
    t.type = c.get<uint32_t>();
    if (static_cast<GgufTensorType>(t.type) == GgufTensorType::kQ8_0 && numel % 32 != 0)
      throw InputError(path + ": tensor \"" + t.name + "\" is Q8_0 but its size is not a multiple of 32");
    t.offset = c.get<uint64_t>();
    if (t.offset % alignment_ != 0) throw InputError(path + ": tensor \"" + t.name + "\" is not aligned");
    tensors_.push_back(std::move(t));
  }
  data_start_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  for (const auto& t : tensors_) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    const uint64_t bytes = gguf_tensor_bytes(static_cast<GgufTensorType>(t.type), n);
    // Compared so that nothing wraps around (offset is the file's claim).
    if (data_start_ > file_size_ || t.offset > file_size_ - data_start_ || bytes > file_size_ - data_start_ - t.offset)
      throw InputError(path + ": tensor \"" + t.name + "\" runs past the end of the file (truncated?)");
  }
}

const GgufValue& GgufFile::at(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) throw InputError(path_ + ": no metadata key \"" + key + "\"");
  return it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

torch::Tensor GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) throw InputError(path_ + ": no tensor named \"" + name + "\"");
  int64_t n = 1;
  for (int64_t d : t->shape) n *= d;
  const auto type = static_cast<GgufTensorType>(t->type);
  if (type != GgufTensorType::kF32 && type != GgufTensorType::kF16 && type != GgufTensorType::kBF16 &&
      type != GgufTensorType::kQ8_0)
    throw InputError(path_ + ": tensor \"" + name + "\" has ggml type " + std::to_string(t->type) + ", not read here");
  const uint64_t bytes = gguf_tensor_bytes(type, n);
  torch::Tensor raw = torch::empty({static_cast<int64_t>(bytes)}, torch::kUInt8);
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(data_start_ + t->offset));
  in.read(static_cast<char*>(raw.data_ptr()), static_cast<std::streamsize>(bytes));
  if (!in) throw InputError(path_ + ": cannot read tensor \"" + name + "\"");
  torch::Tensor f;
  switch (type) {
    case GgufTensorType::kF32: f = raw.view(torch::kFloat32); break;
    case GgufTensorType::kF16: f = raw.view(torch::kFloat16).to(torch::kFloat32); break;
    case GgufTensorType::kBF16: f = raw.view(torch::kBFloat16).to(torch::kFloat32); break;
    case GgufTensorType::kQ8_0: f = dequantize_q8_0(raw); break;
  }
  return f.reshape(t->shape);
}

}  // namespace qsenti
