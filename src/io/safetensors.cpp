#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"

namespace qsenti {

namespace {

// Headers larger than this are not weights files (the 8B index has ~400 tensors
// per shard, a few tens of KB of JSON).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

}  // namespace

struct MappedFile {
  void* addr = nullptr;
  size_t size = 0;
  ~MappedFile() {
    if (addr && addr != MAP_FAILED) ::munmap(addr, size);
  }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(addr); }
};

torch::Dtype dtype_from_safetensors(const std::string& name, const std::string& context) {
  if (name == "F32") return torch::kFloat32;
  if (name == "BF16") return torch::kBFloat16;
  if (name == "F16") return torch::kFloat16;
  if (name == "F64") return torch::kFloat64;
  if (name == "I64") return torch::kInt64;
  if (name == "I32") return torch::kInt32;
  if (name == "I16") return torch::kInt16;
  if (name == "I8") return torch::kInt8;
  if (name == "U8") return torch::kUInt8;
  if (name == "BOOL") return torch::kBool;
  throw InputError(context + ": unsupported dtype \"" + name + "\"");
}

std::string dtype_to_safetensors(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "F32";
    case torch::kBFloat16: return "BF16";
    case torch::kFloat16: return "F16";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: throw Error("safetensors: cannot store dtype " + std::string(c10::toString(dtype)));
  }
}

size_t dtype_size(torch::Dtype dtype) { return c10::elementSize(dtype); }

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw InputError(path + ": cannot stat: " + std::strerror(errno));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw InputError(path + ": truncated safetensors file (" + std::to_string(size) +
                     " bytes, the 8-byte header length is missing)");
  }
  map_ = std::make_shared<MappedFile>();
  map_->size = size;
  // MAP_PRIVATE + PROT_WRITE: tensors may be handed to code that writes in
  // place; such writes land in private pages and never reach the file.
  map_->addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_->addr == MAP_FAILED) {
    map_->addr = nullptr;
    throw InputError(path + ": cannot memory-map: " + std::strerror(errno));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, map_->bytes(), 8);  // little-endian, as the format says
  if (header_len > size - 8) {
    throw InputError(path + ": header length " + std::to_string(header_len) +
                     " runs past the end of the file (" + std::to_string(size) + " bytes): truncated or not safetensors");
  }
  if (header_len > kMaxHeaderBytes) throw InputError(path + ": header of " + std::to_string(header_len) + " bytes is implausibly large");
  header_.assign(reinterpret_cast<const char*>(map_->bytes() + 8), header_len);
  data_start_ = 8 + header_len;
  const uint64_t data_size = size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw InputError(path + ": header is not a JSON object");

  std::vector<const TensorEntry*> by_offset;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const std::string ctx = path + ": tensor \"" + name + "\"";
    if (name == "__metadata__") {
      if (!it->is_object()) throw InputError(path + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw InputError(path + ": __metadata__ value \"" + m.key() + "\" is not a string");
        metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& v = *it;
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw InputError(ctx + ": entry needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) throw InputError(ctx + ": dtype is not a string");
    TensorEntry e;
    e.name = name;
    e.dtype = dtype_from_safetensors(v["dtype"].get<std::string>(), ctx);
    if (!v["shape"].is_array()) throw InputError(ctx + ": shape is not an array");
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw InputError(ctx + ": shape holds a non-integer or negative dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (UINT64_MAX / 2) / dim) throw InputError(ctx + ": shape overflows");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw InputError(ctx + ": data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.end < e.begin) throw InputError(ctx + ": data_offsets end before they begin");
    if (e.end > data_size)
      throw InputError(ctx + ": data [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                       ") lies past the end of the file's data (" + std::to_string(data_size) + " bytes): truncated file?");
    const uint64_t expect = numel * dtype_size(e.dtype);
    if (e.end - e.begin != expect)
      throw InputError(ctx + ": shape and dtype need " + std::to_string(expect) + " bytes but data_offsets span " +
                       std::to_string(e.end - e.begin));
    entries_.emplace(name, std::move(e));
  }
  for (const auto& kv : entries_) by_offset.push_back(&kv.second);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end && by_offset[i]->end > by_offset[i]->begin)
      throw InputError(path + ": tensors \"" + by_offset[i - 1]->name + "\" and \"" + by_offset[i]->name +
                       "\" overlap in the data section");
  }
}

const TensorEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw InputError(path_ + ": no tensor named \"" + name + "\"");
  return it->second;
}

uint64_t SafetensorsFile::file_size() const { return map_->size; }

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorEntry& e = entry(name);
  auto opts = torch::TensorOptions().dtype(e.dtype);
  if (e.numel() == 0) return torch::empty(e.shape, opts);
  uint8_t* ptr = const_cast<uint8_t*>(map_->bytes()) + data_start_ + e.begin;
  const size_t elem = dtype_size(e.dtype);
  if (reinterpret_cast<uintptr_t>(ptr) % elem != 0) {
    // Misaligned data (legal in the format): copy rather than view.
    auto t = torch::empty(e.shape, opts);
    std::memcpy(t.data_ptr(), ptr, e.end - e.begin);
    return t;
  }
  auto keep = map_;
  return torch::from_blob(ptr, e.shape, [keep](void*) mutable { keep.reset(); }, opts);
}

// ---------------------------------------------------------------- writer

void SafetensorsWriter::add(const std::string& name, torch::Dtype dtype, std::vector<int64_t> shape,
                            Producer producer) {
  for (const auto& it : items_)
    if (it.name == name) throw Error("safetensors writer: tensor \"" + name + "\" added twice");
  items_.push_back({name, dtype, std::move(shape), std::move(producer)});
}

void SafetensorsWriter::add(const std::string& name, const torch::Tensor& tensor) {
  torch::Tensor t = tensor;
  add(name, t.scalar_type(), t.sizes().vec(), [t] { return t; });
}

uint64_t SafetensorsWriter::data_bytes() const {
  uint64_t n = 0;
  for (const auto& it : items_) {
    uint64_t numel = 1;
    for (int64_t d : it.shape) numel *= static_cast<uint64_t>(d);
    n += numel * dtype_size(it.dtype);
  }
  return n;
}

void SafetensorsWriter::write(const std::string& path) const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto& it : items_) {
    uint64_t numel = 1;
    for (int64_t d : it.shape) numel *= static_cast<uint64_t>(d);
    const uint64_t bytes = numel * dtype_size(it.dtype);
    header[it.name] = {{"dtype", dtype_to_safetensors(it.dtype)}, {"shape", it.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as HF does.
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');
  write_file_atomically(path, [&](std::ostream& out) {
    uint64_t len = text.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& it : items_) {
      torch::Tensor t = it.producer();
      if (t.sizes().vec() != it.shape)
        throw Error("safetensors writer: tensor \"" + it.name + "\" has shape " + c10::str(t.sizes()) +
                    ", declared " + c10::str(c10::IntArrayRef(it.shape)));
      t = t.to(torch::kCPU, it.dtype).contiguous();
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
      if (!out) throw Error("error writing " + path + " (disk full?)");
    }
  });
}

void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter w;
  for (const auto& kv : tensors) w.add(kv.first, kv.second.detach());
  for (const auto& kv : metadata) w.set_metadata(kv.first, kv.second);
  w.write(path);
}

}  // namespace qsenti
