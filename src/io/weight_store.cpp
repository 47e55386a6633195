#include "io/weight_store.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

WeightStore::WeightStore(const std::string& model_dir) : dir_(model_dir) {
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir)) throw InputError(model_dir + ": not a model folder (no such directory)");
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    nlohmann::json j;
    std::ifstream in(index);
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(index.string() + ": not valid JSON: " + e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw InputError(index.string() + ": missing \"weight_map\" object");
    std::map<std::string, size_t> file_index;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) throw InputError(index.string() + ": weight_map[\"" + it.key() + "\"] is not a file name");
      const std::string file = it->get<std::string>();
      if (file.find('/') != std::string::npos || file == ".." )
        throw InputError(index.string() + ": shard name \"" + file + "\" must be a plain file name");
      auto f = file_index.find(file);
      if (f == file_index.end()) {
        const fs::path p = dir / file;
        if (!fs::exists(p)) throw InputError(index.string() + ": shard " + p.string() + " is missing");
        files_.push_back(std::make_shared<SafetensorsFile>(p.string()));
        f = file_index.emplace(file, files_.size() - 1).first;
      }
      if (!files_[f->second]->contains(it.key()))
        throw InputError(files_[f->second]->path() + ": tensor \"" + it.key() + "\" listed in the index is not in this shard");
      where_[it.key()] = f->second;
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_shared<SafetensorsFile>(single.string()));
    for (const auto& kv : files_[0]->entries()) where_[kv.first] = 0;
  } else {
    throw InputError(model_dir + ": no model.safetensors or model.safetensors.index.json");
  }
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  for (const auto& kv : where_) out.push_back(kv.first);
  return out;
}

const TensorEntry& WeightStore::entry(const std::string& name) const { return files_[where_.at(name)]->entry(name); }

torch::Tensor WeightStore::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw InputError(dir_ + ": no tensor named \"" + name + "\"");
  return files_[it->second]->tensor(name);
}

const std::string& WeightStore::file_of(const std::string& name) const { return files_[where_.at(name)]->path(); }

uint64_t WeightStore::total_bytes() const {
  uint64_t n = 0;
  for (const auto& kv : where_) {
    const auto& e = entry(kv.first);
    n += e.end - e.begin;
  }
  return n;
}

void write_sharded(const std::string& dir, const std::vector<std::pair<std::string, SafetensorsWriter>>& shards) {
  fs::create_directories(dir);
  if (shards.size() == 1) {
    shards[0].second.write((fs::path(dir) / "model.safetensors").string());
    return;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  for (const auto& [file, writer] : shards) {
    writer.write((fs::path(dir) / file).string());
    total += writer.data_bytes();
    SafetensorsFile check((fs::path(dir) / file).string());
    for (const auto& kv : check.entries()) weight_map[kv.first] = file;
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::ofstream((fs::path(dir) / "model.safetensors.index.json").string()) << index.dump(2) << "\n";
}

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string model_fingerprint(const std::string& model_dir) {
  WeightStore store(model_dir);
  uint64_t h = 0xcbf29ce484222325ull;
  std::ifstream cfg((fs::path(model_dir) / "config.json").string(), std::ios::binary);
  std::stringstream ss;
  ss << cfg.rdbuf();
  const std::string c = ss.str();
  h = fnv1a64(c.data(), c.size(), h);
  for (const auto& f : store.files()) {
    h = fnv1a64(f->header_json().data(), f->header_json().size(), h);
    // Sample every tensor's first and last bytes: cheap, and any retrained or
    // re-seeded weights change them.
    for (const auto& kv : f->entries()) {
      torch::Tensor t = f->tensor(kv.first).reshape({-1});
      const int64_t n = t.numel();
      const int64_t k = std::min<int64_t>(n, 256);
      if (k == 0) continue;
      torch::Tensor head = t.slice(0, 0, k).contiguous();
      torch::Tensor tail = t.slice(0, n - k, n).contiguous();
      h = fnv1a64(head.data_ptr(), k * head.element_size(), h);
      h = fnv1a64(tail.data_ptr(), k * tail.element_size(), h);
    }
  }
  return hex64(h);
}

}  // namespace qsenti
