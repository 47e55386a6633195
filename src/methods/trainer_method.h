#pragma once
// What methods B (lora) and C (classifier) share around the Trainer: LoRA
// adapters from the options, the peft adapter folder, and one training run
// summed up in a run manifest.
#include <string>
#include <vector>

#include "methods/run_manifest.h"
#include "model/qwen3.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace qsenti {

// Adds the adapters --lora-r/--lora-alpha/--lora-dropout/--rslora/--lora-targets
// ask for; an Error when no layer matches the targets.
void add_lora_adapters(Qwen3& model, const TrainOptions& o);

// Writes the adapters (and `modules_to_save`) as a peft folder `dir`, whole or
// not at all. `task_type` is peft's: "CAUSAL_LM" or "SEQ_CLS".
void write_adapter_folder(Qwen3& model, const TrainOptions& o, const std::string& task_type,
                          const std::vector<std::string>& modules_to_save, const std::string& dir);

// The end of a finished run: its resume state (checkpoints/, the optimizer's
// moments: twice the trainable weights again) is removed unless
// --keep-checkpoints; best/ and the exported weights stay.
void finish_run_folder(const std::string& run_dir, const TrainOptions& o);

// Trains `task` in `run_dir` (resuming when o.resume says so), keeps the best
// checkpoint's weights in the model, and returns the manifest of `method` with
// the base model, labels, options, trainer settings and the validation and
// training metrics filled in. The caller adds test metrics, extras and files.
RunManifest train_and_describe(TrainingTask& task, const TrainOptions& o, const std::string& run_dir,
                               const std::string& method, const std::vector<std::string>& label_names);

}  // namespace qsenti
