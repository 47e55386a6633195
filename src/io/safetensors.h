#pragma once
// Safetensors: Hugging Face's weight format. The reader memory-maps the file,
// validates every byte range before trusting it, and hands out zero-copy
// tensors that keep the mapping alive. The writer streams tensors one at a
// time (so an 8B model is never held twice) into a temporary file it renames.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qsenti {

// Element types we accept in checkpoints, with their safetensors names.
torch::Dtype dtype_from_safetensors(const std::string& name, const std::string& context);
std::string dtype_to_safetensors(torch::Dtype dtype);
size_t dtype_size(torch::Dtype dtype);

struct TensorEntry {
  std::string name;
  torch::Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
  int64_t numel() const;
};

struct MappedFile;  // an mmap'd file region, shared by the tensors that view it

class SafetensorsFile {
 public:
  // Opens, maps and validates `path`; throws InputError naming the file and
  // the tensor on any inconsistency.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const TensorEntry& entry(const std::string& name) const;
  // A tensor viewing the mapped bytes (copied only if misaligned). Read-only
  // in spirit: writes go to private copy-on-write pages, never to the file.
  torch::Tensor tensor(const std::string& name) const;
  uint64_t file_size() const;
  // First bytes of the header, for identifying a checkpoint cheaply.
  const std::string& header_json() const { return header_; }

 private:
  std::string path_;
  std::string header_;
  std::shared_ptr<MappedFile> map_;
  uint64_t data_start_ = 0;
  std::map<std::string, TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Streams tensors into a safetensors file. Tensors are produced lazily in the
// order they were added, converted to their declared dtype and written.
class SafetensorsWriter {
 public:
  using Producer = std::function<torch::Tensor()>;
  void add(const std::string& name, torch::Dtype dtype, std::vector<int64_t> shape, Producer producer);
  void add(const std::string& name, const torch::Tensor& tensor);  // stored in its own dtype
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  uint64_t data_bytes() const;
  size_t size() const { return items_.size(); }
  // Writes atomically (temp file + rename).
  void write(const std::string& path) const;

 private:
  struct Item {
    std::string name;
    torch::Dtype dtype;
    std::vector<int64_t> shape;
    Producer producer;
  };
  std::vector<Item> items_;
  std::map<std::string, std::string> metadata_;
};

// Convenience: write a name→tensor map (each in its own dtype).
void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace qsenti
