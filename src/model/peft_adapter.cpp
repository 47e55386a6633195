#include "model/peft_adapter.h"

#include "util/json_number.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "io/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

namespace {
const char* kPrefix = "base_model.model.";
}

AdapterConfig AdapterConfig::load(const std::string& dir) {
  const std::string path = (fs::path(dir) / "adapter_config.json").string();
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open (is " + dir + " a peft adapter folder?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  AdapterConfig c;
  try {
    if (j.value("peft_type", std::string("LORA")) != "LORA")
      throw InputError(path + ": peft_type " + j["peft_type"].dump() + " is not supported (LoRA only)");
    if (j.value("use_dora", false)) throw InputError(path + ": DoRA adapters are not supported");
    if (j.contains("rank_pattern") && j["rank_pattern"].is_object() && !j["rank_pattern"].empty())
      throw InputError(path + ": per-module rank_pattern is not supported");
    if (j.contains("alpha_pattern") && j["alpha_pattern"].is_object() && !j["alpha_pattern"].empty())
      throw InputError(path + ": per-module alpha_pattern is not supported");
    c.lora.r = json_whole_number(j.at("r"), "r");
    c.lora.alpha = j.at("lora_alpha").get<double>();
    c.lora.dropout = j.value("lora_dropout", 0.0);
    c.lora.use_rslora = j.value("use_rslora", false);
    const auto& t = j.at("target_modules");
    if (t.is_string()) {
      throw InputError(path + ": target_modules as a regular expression is not supported; list the module names");
    }
    c.target_modules = t.get<std::vector<std::string>>();
    if (j.contains("modules_to_save") && j["modules_to_save"].is_array())
      c.modules_to_save = j["modules_to_save"].get<std::vector<std::string>>();
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
      c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
    if (j.contains("task_type") && j["task_type"].is_string()) c.task_type = j["task_type"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw InputError(path + ": " + e.what());
  }
  if (c.lora.r <= 0) throw InputError(path + ": r must be positive");
  return c;
}

void AdapterConfig::save(const std::string& dir) const {
  nlohmann::json j = {
      {"peft_type", "LORA"},
      {"task_type", task_type},
      {"r", lora.r},
      {"lora_alpha", lora.alpha},
      {"lora_dropout", lora.dropout},
      {"use_rslora", lora.use_rslora},
      {"target_modules", target_modules},
      {"modules_to_save", modules_to_save.empty() ? nlohmann::json() : nlohmann::json(modules_to_save)},
      {"base_model_name_or_path", base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"use_dora", false},
      {"lora_bias", false},
      {"layers_to_transform", nullptr},
      {"layers_pattern", nullptr},
      {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()},
      {"revision", nullptr},
  };
  fs::create_directories(dir);
  write_text_atomically((fs::path(dir) / "adapter_config.json").string(), j.dump(2) + "\n");
}

AdapterConfig load_peft_adapter(Qwen3& model, const std::string& dir) {
  AdapterConfig cfg = AdapterConfig::load(dir);
  const std::string file = (fs::path(dir) / "adapter_model.safetensors").string();
  if (!fs::exists(file)) {
    if (fs::exists(fs::path(dir) / "adapter_model.bin"))
      throw InputError(dir + ": adapter_model.bin (a pickle) cannot be read from C++; save the adapter with safetensors");
    throw InputError(dir + ": no adapter_model.safetensors");
  }
  SafetensorsFile st(file);
  const bool wants_score = std::find(cfg.modules_to_save.begin(), cfg.modules_to_save.end(), "score") !=
                               cfg.modules_to_save.end() || st.contains(std::string(kPrefix) + "score.weight");
  if (wants_score && !model->has_score()) {
    const std::string key = std::string(kPrefix) + "score.weight";
    if (!st.contains(key)) throw InputError(file + ": modules_to_save lists \"score\" but the tensor \"" + key + "\" is missing");
    model->add_score_head(st.entry(key).shape.at(0));
    model->score->to(model->device(), model->model->norm->weight.scalar_type());
  }
  if (model->add_lora(cfg.lora, cfg.target_modules) == 0)
    throw InputError(dir + ": target_modules " + nlohmann::json(cfg.target_modules).dump() + " match no layer of the model");
  std::set<std::string> used;
  torch::NoGradGuard ng;
  auto fill = [&](const std::string& key, torch::Tensor& param) {
    if (!st.contains(key)) throw InputError(file + ": missing tensor \"" + key + "\"");
    const auto& e = st.entry(key);
    if (e.shape != param.sizes().vec())
      throw InputError(file + ": tensor \"" + key + "\" has shape " + c10::str(c10::IntArrayRef(e.shape)) + ", the model needs " +
                       c10::str(param.sizes()));
    param.set_data(st.tensor(key).to(param.device(), param.scalar_type()).clone());
    used.insert(key);
  };
  for (auto& [path, lin] : model->lora_layers()) {
    fill(kPrefix + path + ".lora_A.weight", lin->lora_A->weight);
    fill(kPrefix + path + ".lora_B.weight", lin->lora_B->weight);
  }
  if (wants_score) fill(std::string(kPrefix) + "score.weight", model->score->weight);
  for (const auto& kv : st.entries())
    if (!used.count(kv.first))
      throw InputError(file + ": tensor \"" + kv.first + "\" does not belong to any LoRA layer of this model");
  return cfg;
}

void save_peft_adapter(Qwen3& model, const AdapterConfig& config, const std::string& dir) {
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [path, lin] : model->lora_layers()) {
    if (lin->lora_merged()) throw Error("cannot save a merged LoRA adapter (unmerge it first)");
    tensors[kPrefix + path + ".lora_A.weight"] = lin->lora_A->weight.detach().contiguous();
    tensors[kPrefix + path + ".lora_B.weight"] = lin->lora_B->weight.detach().contiguous();
  }
  AdapterConfig cfg = config;
  if (model->has_score()) {
    tensors[std::string(kPrefix) + "score.weight"] = model->score->weight.detach().contiguous();
    if (std::find(cfg.modules_to_save.begin(), cfg.modules_to_save.end(), "score") == cfg.modules_to_save.end())
      cfg.modules_to_save.push_back("score");
    cfg.task_type = "SEQ_CLS";
  }
  fs::create_directories(dir);
  save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors);
  cfg.save(dir);
}

}  // namespace qsenti
