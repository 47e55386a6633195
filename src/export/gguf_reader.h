#pragma once
// A small GGUF reader: the metadata, the tensor table, and tensors decoded to
// float32. It checks what GgufWriter writes (tests, `export` self-checks);
// it is not a loader for llama.cpp's whole type zoo (F32, F16, BF16, Q8_0 only).
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "export/gguf_writer.h"

namespace qsenti {

struct GgufValue {
  GgufValueType type;
  GgufValueType element_type = GgufValueType::kU8;  // arrays only
  nlohmann::json value;  // numbers, bool, string, or an array of them
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // torch order (outermost first)
  uint32_t type = 0;           // ggml type id
  uint64_t offset = 0;         // within the data section
};

class GgufFile {
 public:
  // Reads the header of `path`; InputError naming the file on any problem.
  explicit GgufFile(const std::string& path);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  std::vector<std::string> keys_in_order() const { return key_order_; }
  bool has(const std::string& key) const { return kv_.count(key) > 0; }
  const GgufValue& at(const std::string& key) const;  // InputError when absent
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // The tensor decoded to float32, in torch order.
  torch::Tensor tensor(const std::string& name) const;

 private:
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_start_ = 0;
  uint64_t file_size_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensorInfo> tensors_;
};

}  // namespace qsenti
