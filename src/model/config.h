#pragma once
// Qwen3's config.json: every field the architecture uses, validated, plus the
// raw JSON so that fields we do not interpret survive a round trip.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>
#include "text/qwen3_tokens.h"

namespace qsenti {

struct Qwen3Config {
  std::string model_type = "qwen3";
  std::vector<std::string> architectures{"Qwen3ForCausalLM"};
  int64_t vocab_size = 151936;
  int64_t hidden_size = 1024;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 28;
  int64_t num_attention_heads = 16;
  int64_t num_key_value_heads = 8;
  int64_t head_dim = 128;  // read from the config, never hidden/heads
  int64_t max_position_embeddings = 40960;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1000000.0;
  bool tie_word_embeddings = true;
  bool attention_bias = false;
  std::string hidden_act = "silu";
  std::string torch_dtype = "bfloat16";
  std::optional<int64_t> bos_token_id = kQwen3EndOfTextId;
  std::optional<int64_t> eos_token_id = kQwen3ImEndId;
  std::optional<int64_t> pad_token_id;  // the sequence classifier pools on it
  // Sequence classification (Qwen3ForSequenceClassification).
  int64_t num_labels = 2;
  std::vector<std::string> id2label;  // empty: not given
  nlohmann::json raw = nlohmann::json::object();

  static Qwen3Config from_json(const nlohmann::json& j, const std::string& source);
  static Qwen3Config load(const std::string& model_dir);
  nlohmann::json to_json() const;
  void save(const std::string& model_dir) const;

  // Refuses what this implementation does not run (MoE, sliding windows,
  // rope scaling, other activations): better no answer than a wrong one.
  void validate(const std::string& source) const;

  bool is_sequence_classifier() const;
  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // Parameters in the backbone and LM head (tied head counted once).
  int64_t parameter_count(bool with_score_head = false) const;

  // Presets in the real shapes: tiny (tests), 0.6B, 4B, 8B.
  static Qwen3Config preset(const std::string& name);
  static std::vector<std::string> preset_names();
};

}  // namespace qsenti
