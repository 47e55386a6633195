#pragma once
// GGUF v3, the file format of llama.cpp (and ollama, LM Studio): a header of
// typed key/value metadata and tensor descriptions, then the tensor data,
// each tensor at an offset aligned to `general.alignment`.
//
// The writer streams: tensors are declared with a producer and converted and
// written one at a time, in row chunks, so an 8B export holds the source
// weights (often memory-mapped) and one chunk, never a second model. The file
// is written as a temporary sibling and renamed (util/atomic_file.h).
//
// Shapes are given in torch order ([out, in] for a Linear weight); the file
// stores ggml order (innermost first), which the writer reverses to.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qsenti {

// ggml tensor types this writer produces (values as in ggml.h).
enum class GgufTensorType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };

// GGUF metadata value types (values as in the spec).
enum class GgufValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

constexpr int64_t kQ8_0BlockSize = 32;     // values per Q8_0 block
constexpr int64_t kQ8_0BlockBytes = 2 + 32;  // fp16 scale + 32 int8
constexpr uint32_t kGgufDefaultAlignment = 32;

const char* gguf_tensor_type_name(GgufTensorType t);  // "F32", "Q8_0", ...
// Parses f32 | f16 | bf16 | q8_0; Error (usage) otherwise.
GgufTensorType gguf_tensor_type_from_name(const std::string& name);
// Bytes a tensor of `numel` elements takes (numel a multiple of the block size).
uint64_t gguf_tensor_bytes(GgufTensorType t, int64_t numel);

// Q8_0 as ggml's reference quantiser: per block of 32, d = max|x| / 127,
// q = round-half-away(x / d) (computed as x * (1/d) in fp32, as ggml does),
// d stored as fp16. `x` is float32, contiguous, numel a multiple of 32.
// Returns uint8 [numel / 32, 34]: the blocks as the file stores them.
torch::Tensor quantize_q8_0(const torch::Tensor& x);
// The inverse, to float32 [numel].
torch::Tensor dequantize_q8_0(const torch::Tensor& blocks);

class GgufWriter {
 public:
  using Producer = std::function<torch::Tensor()>;

  // Metadata. Setting a key again replaces its value (order of first set kept).
  void set_u8(const std::string& key, uint8_t v);
  void set_i8(const std::string& key, int8_t v);
  void set_u16(const std::string& key, uint16_t v);
  void set_i16(const std::string& key, int16_t v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_i64(const std::string& key, int64_t v);
  void set_f32(const std::string& key, float v);
  void set_f64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void set_u32s(const std::string& key, const std::vector<uint32_t>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  bool has_key(const std::string& key) const;
  size_t kv_count() const { return kv_.size(); }

  // Tensors, written in the order added. `shape` in torch order; the producer
  // is called once, at write time, and may return any floating dtype on any
  // device (converted chunk by chunk). Q8_0 needs the innermost dimension to
  // be a multiple of 32.
  void add_tensor(const std::string& name, GgufTensorType type, std::vector<int64_t> shape, Producer producer);
  size_t tensor_count() const { return tensors_.size(); }
  uint64_t data_bytes() const;  // tensor data including alignment padding

  // Writes the file atomically; `general.alignment` is written when not set.
  // Error naming the file and tensor on any failure; no file is left behind.
  void write(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    std::string bytes;  // value type tag + payload, serialised
  };
  struct Item {
    std::string name;
    GgufTensorType type;
    std::vector<int64_t> shape;
    Producer producer;
  };
  void set_raw(const std::string& key, std::string bytes);
  std::vector<Kv> kv_;
  std::vector<Item> tensors_;
  uint32_t alignment_ = kGgufDefaultAlignment;
};

}  // namespace qsenti
