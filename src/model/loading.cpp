#include "text/qwen3_tokens.h"
#include "model/loading.h"

#include "util/assets.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "io/safetensors.h"
#include "io/weight_store.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

std::vector<std::pair<std::string, std::vector<int64_t>>> qwen3_tensor_shapes(const Qwen3Config& c, bool score_head) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  const int64_t h = c.hidden_size;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "mlp.down_proj.weight", {h, c.intermediate_size}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, h}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, h}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
    out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    out.push_back({p + "self_attn.k_proj.weight", {c.kv_dim(), h}});
    out.push_back({p + "self_attn.o_proj.weight", {h, c.q_dim()}});
    out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
    out.push_back({p + "self_attn.q_proj.weight", {c.q_dim(), h}});
    out.push_back({p + "self_attn.v_proj.weight", {c.kv_dim(), h}});
    if (c.attention_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {c.q_dim()}});
      out.push_back({p + "self_attn.k_proj.bias", {c.kv_dim()}});
      out.push_back({p + "self_attn.v_proj.bias", {c.kv_dim()}});
      out.push_back({p + "self_attn.o_proj.bias", {h}});
    }
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings && !score_head) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  if (score_head) out.push_back({"score.weight", {c.num_labels, h}});
  return out;
}

namespace {

bool is_norm(const std::string& name) { return name.find("norm.weight") != std::string::npos; }
bool is_bias(const std::string& name) { return name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0; }

// Deterministic per-tensor generator: init does not depend on tensor order.
torch::Tensor random_tensor(const std::string& name, const std::vector<int64_t>& shape, uint64_t seed, double std) {
  if (is_norm(name)) return torch::ones(shape);
  if (is_bias(name)) return torch::zeros(shape);
  auto gen = at::detail::createCPUGenerator(seed ^ (fnv1a64(name.data(), name.size()) * 0x9E3779B97F4A7C15ull));
  return at::normal(0.0, std, shape, gen);
}

}  // namespace

Qwen3 load_qwen3(const std::string& model_dir, const LoadOptions& options) {
  Qwen3Config config = Qwen3Config::load(model_dir);
  WeightStore store(model_dir);
  const bool score = options.score_head || config.is_sequence_classifier();
  if (score && !config.is_sequence_classifier()) config.num_labels = options.num_labels;
  if (score && store.contains("score.weight")) config.num_labels = store.entry("score.weight").shape[0];
  // A classifier never uses an LM head: not loaded, not asked for.
  Qwen3 model(config, score, /*with_lm_head=*/!score);

  std::set<std::string> used;
  for (auto& item : model->named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    if (name.find("lora_") != std::string::npos) continue;
    std::string key = name;
    // Qwen3-Embedding checkpoints are saved from Qwen3Model: no "model." prefix.
    if (!store.contains(key) && key.rfind("model.", 0) == 0 && store.contains(key.substr(6))) key = key.substr(6);
    torch::Tensor& param = item.value();
    if (!store.contains(key)) {
      if (name == "score.weight" && options.score_head) {
        torch::NoGradGuard ng;
        param.set_data(random_tensor(name, param.sizes().vec(), 0x5C0BE, 0.02).to(options.device, options.dtype));
        continue;
      }
      throw InputError(model_dir + ": checkpoint lacks tensor \"" + name + "\" (" +
                       (name == "lm_head.weight" ? "config says tie_word_embeddings=false" : "needed by the config") + ")");
    }
    const TensorEntry& e = store.entry(key);
    if (e.shape != param.sizes().vec())
      throw InputError(store.file_of(key) + ": tensor \"" + key + "\" has shape " + c10::str(c10::IntArrayRef(e.shape)) +
                       " but config.json implies " + c10::str(param.sizes()));
    if (!c10::isFloatingType(e.dtype))
      throw InputError(store.file_of(key) + ": tensor \"" + key + "\" has non-float dtype " + c10::toString(e.dtype));
    torch::NoGradGuard ng;
    param.set_data(store.tensor(key).to(options.device, options.dtype));
    used.insert(key);
  }
  size_t unused = 0;
  std::string example;
  for (const auto& n : store.names()) {
    if (used.count(n)) continue;
    if (n == "lm_head.weight" && (config.tie_word_embeddings || score)) continue;  // a tied copy, or unused by a classifier
    if (n == "score.weight") continue;
    ++unused;
    if (example.empty()) example = n;
  }
  if (unused) std::cerr << "qsenti: note: " << model_dir << ": " << unused << " tensor(s) not used, e.g. \"" << example << "\"\n";
  model->to(options.device);  // norms and anything not read from the store
  return model;
}

void init_random_weights(Qwen3& model, uint64_t seed) {
  torch::NoGradGuard ng;
  for (auto& item : model->named_parameters(true)) {
    if (item.key().find("lora_") != std::string::npos) continue;
    torch::Tensor& p = item.value();
    p.set_data(random_tensor(item.key(), p.sizes().vec(), seed, 0.02).to(p.scalar_type()));
  }
}

namespace {

using Shard = std::pair<std::string, SafetensorsWriter>;

std::vector<Shard> plan_shards(const std::vector<std::tuple<std::string, std::vector<int64_t>, SafetensorsWriter::Producer>>& items,
                               torch::Dtype dtype, uint64_t max_shard_bytes) {
  std::vector<SafetensorsWriter> writers(1);
  uint64_t in_current = 0;
  for (const auto& [name, shape, producer] : items) {
    uint64_t bytes = dtype_size(dtype);
    for (int64_t d : shape) bytes *= static_cast<uint64_t>(d);
    if (in_current > 0 && in_current + bytes > max_shard_bytes) {
      writers.emplace_back();
      in_current = 0;
    }
    writers.back().add(name, dtype, shape, producer);
    writers.back().set_metadata("format", "pt");
    in_current += bytes;
  }
  std::vector<Shard> shards;
  const size_t n = writers.size();
  for (size_t i = 0; i < n; ++i) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", i + 1, n);
    shards.emplace_back(n == 1 ? "model.safetensors" : file, std::move(writers[i]));
  }
  return shards;
}

void write_generation_config(const Qwen3Config& c, const std::string& dir) {
  nlohmann::json g = {{"bos_token_id", c.bos_token_id.value_or(kQwen3EndOfTextId)},
                      {"eos_token_id", {kQwen3ImEndId, kQwen3EndOfTextId}},
                      {"pad_token_id", kQwen3EndOfTextId},
                      {"do_sample", true},
                      {"temperature", 0.6},
                      {"top_p", 0.95},
                      {"top_k", 20}};
  write_text_atomically((fs::path(dir) / "generation_config.json").string(), g.dump(2) + "\n");
}

}  // namespace

void save_qwen3(Qwen3& model, const std::string& dir, torch::Dtype dtype, uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::vector<std::tuple<std::string, std::vector<int64_t>, SafetensorsWriter::Producer>> items;
  for (auto& item : model->named_parameters(true)) {
    const std::string name = item.key();
    if (name.find("lora_") != std::string::npos) continue;
    torch::Tensor t = item.value().detach();
    items.emplace_back(name, t.sizes().vec(), [t] { return t; });
  }
  // Remove stale shards of an earlier save before writing the new set.
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string f = entry.path().filename().string();
    if (f.rfind("model-", 0) == 0 && entry.path().extension() == ".safetensors") fs::remove(entry.path());
  }
  fs::remove(fs::path(dir) / "model.safetensors.index.json");
  auto shards = plan_shards(items, dtype, max_shard_bytes);
  write_sharded(dir, shards);
  Qwen3Config c = model->config;
  c.torch_dtype = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kFloat16 ? "float16" : "float32";
  if (model->has_score()) {
    c.architectures = {"Qwen3ForSequenceClassification"};
    if (!c.pad_token_id) c.pad_token_id = kQwen3EndOfTextId;
  }
  c.save(dir);
  copy_bundled_tokenizer(dir);
}

void write_random_model(const Qwen3Config& c, const std::string& dir, uint64_t seed, torch::Dtype dtype,
                        uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::vector<std::tuple<std::string, std::vector<int64_t>, SafetensorsWriter::Producer>> items;
  for (const auto& [name, shape] : qwen3_tensor_shapes(c, c.is_sequence_classifier())) {
    std::string n = name;
    std::vector<int64_t> s = shape;
    items.emplace_back(n, s, [n, s, seed] { return random_tensor(n, s, seed, 0.02); });
  }
  auto shards = plan_shards(items, dtype, max_shard_bytes);
  write_sharded(dir, shards);
  Qwen3Config out = c;
  out.torch_dtype = dtype == torch::kBFloat16 ? "bfloat16" : "float32";
  out.save(dir);
  write_generation_config(out, dir);
  copy_bundled_tokenizer(dir);
}

void copy_bundled_tokenizer(const std::string& dir) {
  const fs::path src = fs::path(assets_dir()) / "qwen3-tokenizer";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    const fs::path to = fs::path(dir) / f;
    if (!fs::exists(to) && fs::exists(src / f)) fs::copy_file(src / f, to);
  }
}

}  // namespace qsenti
