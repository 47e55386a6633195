#pragma once
// LoRA adapters in peft's on-disk format, so adapters move freely between
// qsenti and Python: adapter_config.json + adapter_model.safetensors with
// tensors named "base_model.model.<module path>.lora_A.weight" (the adapter
// name "default" stripped, as peft's save_pretrained does) and the modules in
// `modules_to_save` (the classifier's `score`) as "base_model.model.score.weight".
#include <string>
#include <vector>

#include "model/qwen3.h"

namespace qsenti {

struct AdapterConfig {
  LoraSpec lora;
  std::vector<std::string> target_modules;
  std::vector<std::string> modules_to_save;  // e.g. {"score"}
  std::string base_model_name_or_path;
  std::string task_type = "CAUSAL_LM";  // or SEQ_CLS

  static AdapterConfig load(const std::string& adapter_dir);
  void save(const std::string& adapter_dir) const;
};

// Adds LoRA layers as the config says and loads their weights (and the
// modules to save). Throws InputError naming the file and tensor on mismatch.
AdapterConfig load_peft_adapter(Qwen3& model, const std::string& adapter_dir);

// Writes the model's LoRA weights (and the score head when the model has one)
// in peft's format. The adapters must not be merged.
void save_peft_adapter(Qwen3& model, const AdapterConfig& config, const std::string& adapter_dir);

}  // namespace qsenti
