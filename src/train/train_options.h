#pragma once
// Everything `qsenti train` accepts, for all three methods. Zero / empty
// values mean "the method's default for this model size".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qsenti {

struct TrainOptions {
  // What and where.
  std::string method;       // embedding | lora | classifier
  std::string model;        // HF folder of the base model
  std::string model_size;   // 0.6B | 4B | 8B | "" (inferred from the config)
  std::string train_path, valid_path, test_path;
  std::string data_format = "auto";
  std::string text_column, label_column;  // header name, 0-based index or JSON key; "" = defaults
  std::string out;          // run folder
  bool skip_bad_rows = false;
  double valid_fraction = 0.1;  // held out (stratified, seeded) when no --valid
  std::vector<std::string> labels;  // the classes, in order, when declared (--labels); else inferred

  // Optimisation (0 = size default).
  int64_t epochs = 0;
  int64_t batch_size = 0;
  double lr = 0;
  uint64_t seed = 42;
  int64_t max_length = 256;     // tokens per text, after the template
  std::string dtype = "auto";   // auto | fp32 | bf16 (bf16 = autocast on the model's device)
  double weight_decay = 0.01;
  double warmup_ratio = 0.06;
  std::string schedule = "cosine";  // cosine | linear | constant
  int64_t grad_accum = 1;
  double max_grad_norm = 1.0;
  bool grad_checkpointing = false;
  int64_t eval_every = 0;   // steps; 0 = once per epoch
  int64_t save_every = 0;   // steps; 0 = at each evaluation
  std::string resume;       // run folder to continue
  int64_t max_steps = 0;    // stop after this many optimizer steps (0 = epochs decide)
  bool keep_checkpoints = false;  // keep checkpoints/ (optimizer state) after a finished run
  int64_t save_total_limit = 1;   // checkpoints kept while training (the newest)
  int64_t patience = 0;           // stop after N validations without a better score (0 = never)
  std::string class_weights = "none";  // A and C: none | auto (n / (classes x count) per class)

  // Method A (embedding + head).
  std::string head = "mlp";  // mlp | logreg
  std::string instruction;   // "Instruct: {task}\nQuery:" prefix when set
  std::string cache_dir;     // "" = <out>/../.cache/embeddings or $QSENTI_CACHE
  bool no_cache = false;

  // Methods B and C (LoRA / full fine-tuning).
  bool full = false;          // C: train all weights instead of LoRA
  int64_t lora_r = 0;
  double lora_alpha = 0;
  double lora_dropout = 0.05;
  bool use_rslora = false;
  std::vector<std::string> lora_targets{"q_proj", "k_proj", "v_proj", "o_proj"};

  // Method B (instruction tuning).
  std::string prompt_template = "default";  // default | chat | path of a file with {text}
  std::vector<std::string> label_words;      // per label; default 负面/正面 for 2 classes

  int threads = 0;  // 0 = all cores
  std::string device = "auto";  // auto | cpu | cuda | cuda:N (device/device.h)
  bool quiet = false;
};

// Per-size defaults as the original scripts used them.
struct SizeDefaults {
  int64_t batch_size;
  double lr;
  int64_t lora_r;
  double lora_alpha;
};
SizeDefaults size_defaults(const std::string& model_size, const std::string& method);

// "0.6B", "4B", "8B" from a config's hidden size, "" when it is none of them.
class Qwen3Config;
std::string infer_model_size(int64_t hidden_size);

// The resolved options as saved in a run folder's train_options.json (and in
// the manifest's hyperparameters), and back. Reading names `source` in errors;
// fields a method does not use may be absent and keep their defaults.
nlohmann::json train_options_to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const nlohmann::json& j, const std::string& source);

// The options saved in RUN/train_options.json. An InputError naming the file
// when it is missing or malformed.
TrainOptions saved_train_options(const std::string& run_dir);

// For --resume RUN: the options saved in RUN/train_options.json, with what may
// change between an interrupted run and its continuation (threads, quiet,
// max_steps) taken from `given`. An InputError when the file is missing or
// malformed, naming `method` ("a classifier run folder?").
TrainOptions options_for_resume(const TrainOptions& given, const std::string& method);

}  // namespace qsenti
