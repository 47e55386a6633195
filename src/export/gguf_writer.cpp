#include "export/gguf_writer.h"

#include <cstring>
#include <ostream>

#include "util/atomic_file.h"
#include "util/error.h"

namespace qsenti {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF is written little-endian: a big-endian host needs byte swaps");

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kGgufVersion = 3;
// Elements converted at once: bounds the extra memory of a big tensor's
// conversion (64 MiB of fp32) independently of the model size.
constexpr int64_t kChunkElements = 16ll << 20;

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_string(std::string& s, const std::string& v) {
  put<uint64_t>(s, v.size());
  s.append(v);
}
template <typename T>
std::string scalar(GgufValueType t, T v) {
  std::string s;
  put<uint32_t>(s, static_cast<uint32_t>(t));
  put<T>(s, v);
  return s;
}
template <typename T>
std::string array(GgufValueType t, const std::vector<T>& v) {
  std::string s;
  put<uint32_t>(s, static_cast<uint32_t>(GgufValueType::kArray));
  put<uint32_t>(s, static_cast<uint32_t>(t));
  put<uint64_t>(s, v.size());
  for (const T& x : v) put<T>(s, x);
  return s;
}

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

const char* gguf_tensor_type_name(GgufTensorType t) {
  switch (t) {
    case GgufTensorType::kF32: return "F32";
    case GgufTensorType::kF16: return "F16";
    case GgufTensorType::kQ8_0: return "Q8_0";
    case GgufTensorType::kBF16: return "BF16";
  }
  return "?";
}

GgufTensorType gguf_tensor_type_from_name(const std::string& name) {
  if (name == "f32") return GgufTensorType::kF32;
  if (name == "f16") return GgufTensorType::kF16;
  if (name == "bf16") return GgufTensorType::kBF16;
  if (name == "q8_0") return GgufTensorType::kQ8_0;
  throw Error("--type must be f32, f16, bf16 or q8_0 (got \"" + name + "\")", ExitCode::kUsage);
}

uint64_t gguf_tensor_bytes(GgufTensorType t, int64_t numel) {
  switch (t) {
    case GgufTensorType::kF32: return 4ull * numel;
    case GgufTensorType::kF16:
    case GgufTensorType::kBF16: return 2ull * numel;
    case GgufTensorType::kQ8_0: return static_cast<uint64_t>(numel / kQ8_0BlockSize) * kQ8_0BlockBytes;
  }
  return 0;
}

torch::Tensor quantize_q8_0(const torch::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && x.numel() % kQ8_0BlockSize == 0, "quantize_q8_0: fp32, blocks of 32");
  torch::Tensor b = x.contiguous().view({-1, kQ8_0BlockSize});
  torch::Tensor d = b.abs().amax(1, /*keepdim=*/true) / 127.0f;
  torch::Tensor id = torch::where(d == 0, torch::zeros_like(d), 1.0f / d);
  // round half away from zero, exactly (as roundf; floor(a + 0.5) is not
  // exact for a just below one half in fp32)
  torch::Tensor v = b * id;
  torch::Tensor a = v.abs();
  torch::Tensor fl = a.floor();
  torch::Tensor q = (v.sign() * (fl + (2 * (a - fl)).floor())).to(torch::kInt8);
  torch::Tensor dh = d.to(torch::kFloat16).view(torch::kUInt8);  // [n, 2]
  return torch::cat({dh, q.view(torch::kUInt8)}, 1);                // [n, 34]
}

torch::Tensor dequantize_q8_0(const torch::Tensor& blocks) {
  torch::Tensor b = blocks.contiguous().view({-1, kQ8_0BlockBytes});
  torch::Tensor d = b.slice(1, 0, 2).contiguous().view(torch::kFloat16).to(torch::kFloat32);
  torch::Tensor q = b.slice(1, 2).contiguous().view(torch::kInt8).to(torch::kFloat32);
  return (q * d).reshape({-1});
}

// ---------------------------------------------------------------- metadata

void GgufWriter::set_raw(const std::string& key, std::string bytes) {
  if (key.empty()) throw Error("gguf writer: empty metadata key");
  for (auto& kv : kv_)
    if (kv.key == key) {
      kv.bytes = std::move(bytes);
      return;
    }
  kv_.push_back({key, std::move(bytes)});
}

bool GgufWriter::has_key(const std::string& key) const {
  for (const auto& kv : kv_)
    if (kv.key == key) return true;
  return false;
}

void GgufWriter::set_u8(const std::string& k, uint8_t v) { set_raw(k, scalar(GgufValueType::kU8, v)); }
void GgufWriter::set_i8(const std::string& k, int8_t v) { set_raw(k, scalar(GgufValueType::kI8, v)); }
void GgufWriter::set_u16(const std::string& k, uint16_t v) { set_raw(k, scalar(GgufValueType::kU16, v)); }
void GgufWriter::set_i16(const std::string& k, int16_t v) { set_raw(k, scalar(GgufValueType::kI16, v)); }
void GgufWriter::set_u32(const std::string& k, uint32_t v) {
  if (k == "general.alignment") {
    if (v == 0 || (v & (v - 1)) != 0) throw Error("gguf writer: general.alignment must be a power of two");
    alignment_ = v;
  }
  set_raw(k, scalar(GgufValueType::kU32, v));
}
void GgufWriter::set_i32(const std::string& k, int32_t v) { set_raw(k, scalar(GgufValueType::kI32, v)); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { set_raw(k, scalar(GgufValueType::kU64, v)); }
void GgufWriter::set_i64(const std::string& k, int64_t v) { set_raw(k, scalar(GgufValueType::kI64, v)); }
void GgufWriter::set_f32(const std::string& k, float v) { set_raw(k, scalar(GgufValueType::kF32, v)); }
void GgufWriter::set_f64(const std::string& k, double v) { set_raw(k, scalar(GgufValueType::kF64, v)); }
void GgufWriter::set_bool(const std::string& k, bool v) {
  set_raw(k, scalar(GgufValueType::kBool, static_cast<uint8_t>(v ? 1 : 0)));
}
void GgufWriter::set_string(const std::string& k, const std::string& v) {
  std::string s;
  put<uint32_t>(s, static_cast<uint32_t>(GgufValueType::kString));
  put_string(s, v);
  set_raw(k, std::move(s));
}
void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& v) {
  std::string s;
  put<uint32_t>(s, static_cast<uint32_t>(GgufValueType::kArray));
  put<uint32_t>(s, static_cast<uint32_t>(GgufValueType::kString));
  put<uint64_t>(s, v.size());
  for (const auto& x : v) put_string(s, x);
  set_raw(k, std::move(s));
}
void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& v) { set_raw(k, array(GgufValueType::kI32, v)); }
void GgufWriter::set_u32s(const std::string& k, const std::vector<uint32_t>& v) { set_raw(k, array(GgufValueType::kU32, v)); }
void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& v) { set_raw(k, array(GgufValueType::kF32, v)); }

// ---------------------------------------------------------------- tensors

void GgufWriter::add_tensor(const std::string& name, GgufTensorType type, std::vector<int64_t> shape,
                            Producer producer) {
  if (name.empty()) throw Error("gguf writer: empty tensor name");
  for (const auto& it : tensors_)
    if (it.name == name) throw Error("gguf writer: tensor \"" + name + "\" added twice");
  if (shape.empty()) shape = {1};  // ggml has no 0-d tensors
  for (int64_t d : shape)
    if (d <= 0) throw Error("gguf writer: tensor \"" + name + "\" has an empty dimension");
  if (type == GgufTensorType::kQ8_0 && shape.back() % kQ8_0BlockSize != 0)
    throw Error("gguf writer: tensor \"" + name + "\": Q8_0 needs a row length that is a multiple of 32, got " +
                std::to_string(shape.back()));
  tensors_.push_back({name, type, std::move(shape), std::move(producer)});
}

uint64_t GgufWriter::data_bytes() const {
  uint64_t n = 0;
  for (const auto& it : tensors_) n = align_up(n + gguf_tensor_bytes(it.type, numel_of(it.shape)), alignment_);
  return n;
}

void GgufWriter::write(const std::string& path) const {
  std::string kv_block;
  uint64_t kv_n = kv_.size();
  for (const auto& kv : kv_) {
    put_string(kv_block, kv.key);
    kv_block += kv.bytes;
  }
  if (!has_key("general.alignment")) {
    put_string(kv_block, "general.alignment");
    kv_block += scalar(GgufValueType::kU32, alignment_);
    ++kv_n;
  }
  std::string head;
  put<uint32_t>(head, kGgufMagic);
  put<uint32_t>(head, kGgufVersion);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_n);
  head += kv_block;
  uint64_t offset = 0;
  for (const auto& it : tensors_) {
    put_string(head, it.name);
    put<uint32_t>(head, static_cast<uint32_t>(it.shape.size()));
    for (auto d = it.shape.rbegin(); d != it.shape.rend(); ++d) put<uint64_t>(head, static_cast<uint64_t>(*d));
    put<uint32_t>(head, static_cast<uint32_t>(it.type));
    put<uint64_t>(head, offset);
    offset = align_up(offset + gguf_tensor_bytes(it.type, numel_of(it.shape)), alignment_);
  }
  head.resize(align_up(head.size(), alignment_), '\0');

  write_file_atomically(path, [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    const std::string zeros(alignment_, '\0');
    for (const auto& it : tensors_) {
      torch::Tensor t = it.producer();
      if (t.sizes().vec() != it.shape && !(it.shape == std::vector<int64_t>{1} && t.numel() == 1))
        throw Error("gguf writer: " + path + ": tensor \"" + it.name + "\" has shape " + c10::str(t.sizes()) +
                    ", declared " + c10::str(c10::IntArrayRef(it.shape)));
      if (!c10::isFloatingType(t.scalar_type()))
        throw Error("gguf writer: " + path + ": tensor \"" + it.name + "\" is not floating point (" +
                    std::string(c10::toString(t.scalar_type())) + ")");
      torch::NoGradGuard ng;
      const int64_t row = it.shape.back();
      torch::Tensor rows = t.detach().reshape({-1, row});
      const int64_t per_chunk = std::max<int64_t>(1, kChunkElements / row);
      uint64_t written = 0;
      for (int64_t r = 0; r < rows.size(0); r += per_chunk) {
        torch::Tensor c = rows.slice(0, r, std::min(rows.size(0), r + per_chunk));
        torch::Tensor bytes;
        switch (it.type) {
          case GgufTensorType::kF32: bytes = c.to(torch::kCPU, torch::kFloat32).contiguous(); break;
          case GgufTensorType::kF16: bytes = c.to(torch::kCPU, torch::kFloat16).contiguous(); break;
          case GgufTensorType::kBF16: bytes = c.to(torch::kCPU, torch::kBFloat16).contiguous(); break;
          case GgufTensorType::kQ8_0: bytes = quantize_q8_0(c.to(torch::kCPU, torch::kFloat32).contiguous()); break;
        }
        const auto n = static_cast<std::streamsize>(bytes.numel() * bytes.element_size());
        out.write(static_cast<const char*>(bytes.data_ptr()), n);
        written += static_cast<uint64_t>(n);
        if (!out) throw Error("error writing " + path + " at tensor \"" + it.name + "\" (disk full?)");
      }
      const uint64_t pad = align_up(written, alignment_) - written;
      out.write(zeros.data(), static_cast<std::streamsize>(pad));
      if (!out) throw Error("error writing " + path + " at tensor \"" + it.name + "\" (disk full?)");
    }
  });
}

}  // namespace qsenti
