#include "model/config.h"

#include <filesystem>
#include <fstream>
#include <type_traits>

#include "util/atomic_file.h"
#include "util/error.h"

namespace qsenti {

namespace {

template <typename T>
void read_field(const nlohmann::json& j, const char* key, T& out, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return;
  if constexpr (std::is_same_v<T, int64_t>) {
    // nlohmann converts a float to int64 with a plain cast: undefined for
    // 1e300 (fuzz_config). A whole number in range ("hidden_size": 64.0) is
    // still taken, as Python would.
    const auto& v = j[key];
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (!(d >= -9.2e18 && d <= 9.2e18) || d != static_cast<double>(static_cast<int64_t>(d)))
        throw InputError(source + ": field \"" + key + "\" is not an integer (" + v.dump() + ")");
      out = static_cast<int64_t>(d);
      return;
    }
  }
  try {
    out = j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(source + ": field \"" + key + "\" has the wrong type (" + j[key].dump() + ")");
  }
}

void read_opt_id(const nlohmann::json& j, const char* key, std::optional<int64_t>& out, const std::string& source) {
  if (!j.contains(key)) return;
  const auto& v = j[key];
  if (v.is_null()) {
    out.reset();
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_array() && !v.empty() && v[0].is_number_integer()) {
    out = v[0].get<int64_t>();  // generation configs list several eos ids
  } else {
    throw InputError(source + ": field \"" + key + "\" is not a token id");
  }
}

}  // namespace

Qwen3Config Qwen3Config::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(source + ": not a JSON object");
  Qwen3Config c;
  c.raw = j;
  read_field(j, "model_type", c.model_type, source);
  read_field(j, "architectures", c.architectures, source);
  read_field(j, "vocab_size", c.vocab_size, source);
  read_field(j, "hidden_size", c.hidden_size, source);
  read_field(j, "intermediate_size", c.intermediate_size, source);
  read_field(j, "num_hidden_layers", c.num_hidden_layers, source);
  read_field(j, "num_attention_heads", c.num_attention_heads, source);
  c.num_key_value_heads = c.num_attention_heads;
  read_field(j, "num_key_value_heads", c.num_key_value_heads, source);
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    read_field(j, "head_dim", c.head_dim, source);
  } else {
    c.head_dim = c.hidden_size / std::max<int64_t>(1, c.num_attention_heads);  // HF's fallback
  }
  read_field(j, "max_position_embeddings", c.max_position_embeddings, source);
  read_field(j, "rms_norm_eps", c.rms_norm_eps, source);
  read_field(j, "rope_theta", c.rope_theta, source);
  read_field(j, "tie_word_embeddings", c.tie_word_embeddings, source);
  read_field(j, "attention_bias", c.attention_bias, source);
  read_field(j, "hidden_act", c.hidden_act, source);
  read_field(j, "torch_dtype", c.torch_dtype, source);
  read_opt_id(j, "bos_token_id", c.bos_token_id, source);
  read_opt_id(j, "eos_token_id", c.eos_token_id, source);
  read_opt_id(j, "pad_token_id", c.pad_token_id, source);
  if (j.contains("id2label") && j["id2label"].is_object()) {
    const auto& m = j["id2label"];
    c.id2label.assign(m.size(), "");
    for (auto it = m.begin(); it != m.end(); ++it) {
      size_t idx = 0;
      try {
        idx = std::stoul(it.key());
      } catch (...) {
        throw InputError(source + ": id2label key \"" + it.key() + "\" is not a number");
      }
      if (idx >= c.id2label.size() || !it->is_string()) throw InputError(source + ": id2label is not 0..N-1 → name");
      c.id2label[idx] = it->get<std::string>();
    }
    c.num_labels = static_cast<int64_t>(c.id2label.size());
  }
  read_field(j, "num_labels", c.num_labels, source);
  c.validate(source);
  return c;
}

void Qwen3Config::validate(const std::string& source) const {
  auto refuse = [&](const std::string& why) { throw InputError(source + ": unsupported configuration: " + why); };
  if (model_type == "qwen3_moe" || raw.contains("num_experts"))
    refuse("mixture-of-experts models (qwen3_moe) are not supported; use a dense Qwen3 model");
  if (model_type != "qwen3") refuse("model_type \"" + model_type + "\" (expected \"qwen3\")");
  if (hidden_act != "silu") refuse("hidden_act \"" + hidden_act + "\" (Qwen3 uses silu)");
  if (raw.contains("use_sliding_window") && raw["use_sliding_window"].is_boolean() && raw["use_sliding_window"].get<bool>())
    refuse("use_sliding_window is true; sliding-window attention is not implemented");
  if (raw.contains("rope_scaling") && !raw["rope_scaling"].is_null())
    refuse("rope_scaling " + raw["rope_scaling"].dump() + " is not implemented (plain RoPE only)");
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) throw InputError(source + ": " + name + " must be positive (got " + std::to_string(v) + ")");
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("head_dim", head_dim);
  if (head_dim % 2 != 0) throw InputError(source + ": head_dim must be even for RoPE");
  if (num_attention_heads % num_key_value_heads != 0)
    throw InputError(source + ": num_attention_heads must be a multiple of num_key_value_heads");
  if (rms_norm_eps <= 0 || rope_theta <= 0) throw InputError(source + ": rms_norm_eps and rope_theta must be positive");
  // Sizes whose products overflow int64 (parameter_count, q_dim, the weight
  // shapes) are no model: checked in double, where nothing overflows.
  const double h = static_cast<double>(hidden_size), q = static_cast<double>(num_attention_heads) * head_dim,
               kv = static_cast<double>(num_key_value_heads) * head_dim;
  const double params = static_cast<double>(vocab_size) * h * 2 + static_cast<double>(num_labels) * h +
                        static_cast<double>(num_hidden_layers) * (h * (2 * q + 2 * kv) + 3 * h * intermediate_size);
  if (!(params < 1e15))
    throw InputError(source + ": implausibly large model (about " + std::to_string(params) + " parameters)");
  // to_json writes one id2label entry per label.
  if (num_labels < 1 || num_labels > (1 << 20))
    throw InputError(source + ": num_labels must be between 1 and 1048576 (got " + std::to_string(num_labels) + ")");
}

Qwen3Config Qwen3Config::load(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open (is " + model_dir + " a Hugging Face model folder?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  return from_json(j, path);
}

nlohmann::json Qwen3Config::to_json() const {
  nlohmann::json j = raw.is_object() ? raw : nlohmann::json::object();
  j["model_type"] = model_type;
  j["architectures"] = architectures;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["attention_bias"] = attention_bias;
  j["attention_dropout"] = 0.0;
  j["hidden_act"] = hidden_act;
  j["torch_dtype"] = torch_dtype;
  j["bos_token_id"] = bos_token_id ? nlohmann::json(*bos_token_id) : nlohmann::json();
  j["eos_token_id"] = eos_token_id ? nlohmann::json(*eos_token_id) : nlohmann::json();
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  if (!j.contains("rope_scaling")) j["rope_scaling"] = nullptr;
  if (!j.contains("sliding_window")) j["sliding_window"] = nullptr;
  if (!j.contains("use_sliding_window")) j["use_sliding_window"] = false;
  if (!j.contains("max_window_layers")) j["max_window_layers"] = num_hidden_layers;
  if (!j.contains("initializer_range")) j["initializer_range"] = 0.02;
  if (!j.contains("use_cache")) j["use_cache"] = true;
  if (is_sequence_classifier()) {
    nlohmann::json id2 = nlohmann::json::object(), label2 = nlohmann::json::object();
    for (int64_t i = 0; i < num_labels; ++i) {
      std::string name = i < static_cast<int64_t>(id2label.size()) ? id2label[i] : "LABEL_" + std::to_string(i);
      id2[std::to_string(i)] = name;
      label2[name] = i;
    }
    j["id2label"] = id2;
    j["label2id"] = label2;
  }
  return j;
}

void Qwen3Config::save(const std::string& model_dir) const {
  std::filesystem::create_directories(model_dir);
  write_text_atomically((std::filesystem::path(model_dir) / "config.json").string(), to_json().dump(2) + "\n");
}

bool Qwen3Config::is_sequence_classifier() const {
  for (const auto& a : architectures)
    if (a == "Qwen3ForSequenceClassification") return true;
  return false;
}

int64_t Qwen3Config::parameter_count(bool with_score_head) const {
  const int64_t h = hidden_size;
  int64_t attn = h * q_dim() + 2 * h * kv_dim() + q_dim() * h + 2 * head_dim;
  if (attention_bias) attn += q_dim() + 2 * kv_dim() + h;
  const int64_t mlp = 3 * h * intermediate_size;
  const int64_t layer = attn + mlp + 2 * h;
  int64_t n = vocab_size * h + num_hidden_layers * layer + h;
  if (!tie_word_embeddings) n += vocab_size * h;
  if (with_score_head) n += num_labels * h;
  return n;
}

std::vector<std::string> Qwen3Config::preset_names() { return {"tiny", "0.6B", "4B", "8B"}; }

Qwen3Config Qwen3Config::preset(const std::string& name) {
  Qwen3Config c;
  auto set = [&](int64_t hidden, int64_t layers, int64_t heads, int64_t kv, int64_t hd, int64_t inter, bool tied) {
    c.hidden_size = hidden;
    c.num_hidden_layers = layers;
    c.num_attention_heads = heads;
    c.num_key_value_heads = kv;
    c.head_dim = hd;
    c.intermediate_size = inter;
    c.tie_word_embeddings = tied;
  };
  // tiny: the shape of the plain-PyTorch baseline recipe (hidden 128, 4 layers,
  // 4/2 heads of 32, intermediate 256), small enough to train in minutes.
  if (name == "tiny") set(128, 4, 4, 2, 32, 256, true);
  else if (name == "0.6B") set(1024, 28, 16, 8, 128, 3072, true);
  else if (name == "4B") set(2560, 36, 32, 8, 128, 9728, true);
  else if (name == "8B") set(4096, 36, 32, 8, 128, 12288, false);
  else throw Error("unknown preset \"" + name + "\" (choose tiny, 0.6B, 4B or 8B)", ExitCode::kUsage);
  c.max_position_embeddings = 40960;
  c.raw = nlohmann::json::object();
  return c;
}

}  // namespace qsenti
