#include "methods/trainer_method.h"

#include "util/atomic_file.h"

#include <filesystem>

#include "io/weight_store.h"
#include "model/peft_adapter.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

void add_lora_adapters(Qwen3& model, const TrainOptions& o) {
  LoraSpec spec;
  spec.r = o.lora_r;
  spec.alpha = o.lora_alpha;
  spec.dropout = o.lora_dropout;
  spec.use_rslora = o.use_rslora;
  if (model->add_lora(spec, o.lora_targets) == 0) throw Error("no layer matched --lora-targets");
}

void write_adapter_folder(Qwen3& model, const TrainOptions& o, const std::string& task_type,
                          const std::vector<std::string>& modules_to_save, const std::string& dir) {
  const std::string tmp = dir + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  AdapterConfig ac;
  ac.lora.r = o.lora_r;
  ac.lora.alpha = o.lora_alpha;
  ac.lora.dropout = o.lora_dropout;
  ac.lora.use_rslora = o.use_rslora;
  ac.target_modules = o.lora_targets;
  ac.modules_to_save = modules_to_save;
  ac.base_model_name_or_path = fs::absolute(o.model).string();
  ac.task_type = task_type;
  save_peft_adapter(model, ac, tmp);
  replace_directory(tmp, dir);
}

void finish_run_folder(const std::string& run_dir, const TrainOptions& o) {
  if (o.keep_checkpoints) return;
  std::error_code ec;
  fs::remove_all(fs::path(run_dir) / "checkpoints", ec);
  fsync_directory(run_dir);
}

RunManifest train_and_describe(TrainingTask& task, const TrainOptions& o, const std::string& run_dir,
                               const std::string& method, const std::vector<std::string>& label_names) {
  TrainerConfig tc = TrainerConfig::from_options(o, run_dir);
  tc.select_metric = label_names.size() == 2 ? "accuracy" : "macro_f1";
  tc.label = method;
  Trainer trainer(task, tc);
  TrainResult result = trainer.run();
  trainer.restore_best();

  RunManifest m;
  m.method = method;
  m.base_model = fs::absolute(o.model).string();
  m.base_model_fingerprint = model_fingerprint(o.model);
  m.model_size = o.model_size;
  m.labels = label_names;
  m.hyperparameters = train_options_to_json(o);
  m.hyperparameters["trainer"] = tc.to_json();
  m.metrics = nlohmann::json::object();
  if (!result.best_metrics.is_null()) m.metrics["valid"] = result.best_metrics;
  m.metrics["training"] = result.to_json();
  return m;
}

}  // namespace qsenti
