#include "train/train_options.h"

#include <limits>
#include <type_traits>

#include "util/json_number.h"

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace qsenti {

SizeDefaults size_defaults(const std::string& size, const std::string& method) {
  // Method A: batch 32 / lr 1e-3 (0.6B), 16 / 5e-4 (4B), 8 / 2e-4 (8B).
  // LoRA r/alpha: 16/32, 32/64, 64/128.
  if (method == "embedding") {
    if (size == "4B") return {16, 5e-4, 32, 64};
    if (size == "8B") return {8, 2e-4, 64, 128};
    return {32, 1e-3, 16, 32};
  }
  if (size == "4B") return {8, 1e-4, 32, 64};
  if (size == "8B") return {4, 5e-5, 64, 128};
  return {16, 2e-4, 16, 32};
}

std::string infer_model_size(int64_t hidden_size) {
  if (hidden_size == 1024) return "0.6B";
  if (hidden_size == 2560) return "4B";
  if (hidden_size == 4096) return "8B";
  return "";
}

nlohmann::json train_options_to_json(const TrainOptions& o) {
  return {{"method", o.method},
          {"model", o.model},
          {"model_size", o.model_size},
          {"train", o.train_path},
          {"valid", o.valid_path},
          {"test", o.test_path},
          {"format", o.data_format},
          {"skip_bad_rows", o.skip_bad_rows},
          {"text_column", o.text_column},
          {"label_column", o.label_column},
          {"valid_fraction", o.valid_fraction},
          {"labels", o.labels},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"lr", o.lr},
          {"seed", o.seed},
          {"max_length", o.max_length},
          {"dtype", o.dtype},
          {"device", o.device},
          {"weight_decay", o.weight_decay},
          {"warmup_ratio", o.warmup_ratio},
          {"schedule", o.schedule},
          {"grad_accum", o.grad_accum},
          {"max_grad_norm", o.max_grad_norm},
          {"grad_checkpointing", o.grad_checkpointing},
          {"eval_every", o.eval_every},
          {"save_every", o.save_every},
          {"max_steps", o.max_steps},
          {"keep_checkpoints", o.keep_checkpoints},
          {"save_total_limit", o.save_total_limit},
          {"patience", o.patience},
          {"class_weights", o.class_weights},
          {"full", o.full},
          {"lora_r", o.lora_r},
          {"lora_alpha", o.lora_alpha},
          {"lora_dropout", o.lora_dropout},
          {"rslora", o.use_rslora},
          {"lora_targets", o.lora_targets},
          {"template", o.prompt_template},
          {"label_words", o.label_words}};
}

namespace {

template <typename T>
void read_field(const nlohmann::json& j, const char* key, T& into) {
  if (!j.contains(key)) return;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const int64_t v = json_whole_number(j.at(key), key);
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) || (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
      throw std::invalid_argument(std::string("'") + key + "' is out of range: " + j.at(key).dump());
    into = static_cast<T>(v);
  } else {
    into = j.at(key).get<T>();
  }
}

}  // namespace

TrainOptions train_options_from_json(const nlohmann::json& j, const std::string& source) {
  TrainOptions o;
  try {
    // Always written; a file without them is not ours.
    o.method = j.at("method").get<std::string>();
    o.model = j.at("model").get<std::string>();
    o.train_path = j.at("train").get<std::string>();
    read_field(j, "model_size", o.model_size);
    read_field(j, "valid", o.valid_path);
    read_field(j, "test", o.test_path);
    read_field(j, "format", o.data_format);
    read_field(j, "skip_bad_rows", o.skip_bad_rows);
    read_field(j, "text_column", o.text_column);
    read_field(j, "label_column", o.label_column);
    read_field(j, "valid_fraction", o.valid_fraction);
    read_field(j, "labels", o.labels);
    read_field(j, "epochs", o.epochs);
    read_field(j, "batch_size", o.batch_size);
    read_field(j, "lr", o.lr);
    read_field(j, "seed", o.seed);
    read_field(j, "max_length", o.max_length);
    read_field(j, "dtype", o.dtype);
    read_field(j, "device", o.device);
    read_field(j, "weight_decay", o.weight_decay);
    read_field(j, "warmup_ratio", o.warmup_ratio);
    read_field(j, "schedule", o.schedule);
    read_field(j, "grad_accum", o.grad_accum);
    read_field(j, "max_grad_norm", o.max_grad_norm);
    read_field(j, "grad_checkpointing", o.grad_checkpointing);
    read_field(j, "eval_every", o.eval_every);
    read_field(j, "save_every", o.save_every);
    read_field(j, "max_steps", o.max_steps);
    read_field(j, "keep_checkpoints", o.keep_checkpoints);
    read_field(j, "save_total_limit", o.save_total_limit);
    read_field(j, "patience", o.patience);
    read_field(j, "class_weights", o.class_weights);
    read_field(j, "full", o.full);
    read_field(j, "lora_r", o.lora_r);
    read_field(j, "lora_alpha", o.lora_alpha);
    read_field(j, "lora_dropout", o.lora_dropout);
    read_field(j, "rslora", o.use_rslora);
    read_field(j, "lora_targets", o.lora_targets);
    read_field(j, "template", o.prompt_template);
    read_field(j, "label_words", o.label_words);
  } catch (const std::exception& e) {
    throw InputError(source + ": " + e.what());
  }
  return o;
}

TrainOptions saved_train_options(const std::string& run_dir) {
  const std::string saved = (std::filesystem::path(run_dir) / "train_options.json").string();
  std::ifstream in(saved);
  if (!in) throw InputError(saved + ": missing; is " + run_dir + " a run folder written by qsenti train?");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw InputError(saved + ": malformed JSON: " + e.what());
  }
  return train_options_from_json(j, saved);
}

TrainOptions options_for_resume(const TrainOptions& given, const std::string& method) {
  const std::string saved = (std::filesystem::path(given.resume) / "train_options.json").string();
  TrainOptions o = saved_train_options(given.resume);
  if (o.method != method)
    throw InputError(saved + ": this is a " + o.method + " run; resume it with --method " + o.method);
  o.resume = given.resume;
  o.threads = given.threads;
  o.device = given.device;  // a run may continue on another machine
  o.quiet = given.quiet;
  if (given.max_steps != 0) o.max_steps = given.max_steps;
  // Another number of workers keeps the global batch (workers x batch, which
  // the trainer checks) with another per-worker batch.
  if (given.batch_size != 0) o.batch_size = given.batch_size;
  return o;
}

}  // namespace qsenti
