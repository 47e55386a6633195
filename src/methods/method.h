#pragma once
// What each training method is, in one table: its name, the `train` flags
// only it reads, whether it resumes and runs on several workers, how it
// trains and how it opens its runs. The CLI, the run loader and the
// manifest reader ask this table; no other code matches method names to
// pick behaviour. Each method describes itself in its own file
// (src/methods/<name>_method.cpp); method.cpp only lists them.
#include <memory>
#include <string>
#include <vector>

#include "methods/classifier.h"
#include "methods/run_manifest.h"
#include "train/train_options.h"

namespace qsenti {

struct Method {
  std::string name;     // --method and manifest.json's "method": embedding | lora | classifier
  std::string letter;   // the original's name for it: A, B, C
  std::string summary;  // one line for --help
  // The `train` flags this method reads among those not every method reads;
  // a flag listed by some method and not by this one is refused for it.
  std::vector<std::string> options;
  // Why it trains in one process only (several workers refused with this), or "".
  std::string one_process_only;
  // Why --resume does not apply to it, or "" when it resumes.
  std::string no_resume;
  std::string (*train)(const TrainOptions& options);  // returns the run folder
  std::unique_ptr<TextClassifier> (*load)(const std::string& run_dir, const RunManifest& m,
                                          const PredictOptions& options);
};

// Every method, in the order A, B, C.
const std::vector<const Method*>& all_methods();
// The method called `name`, or nullptr.
const Method* find_method(const std::string& name);
// The method called `name`; otherwise an InputError "<where>: unknown method
// \"x\" (embedding, lora or classifier)".
const Method& method_named(const std::string& name, const std::string& where);
// "embedding, lora or classifier".
std::string method_names();

// Each method's description (defined in its own file).
const Method& embedding_method();
const Method& lora_method();
const Method& classifier_method();

// The `train` flags of the shared Trainer (every method reads them), and
// those of LoRA and of the Qwen3 backbone (B and C only), for Method::options.
const std::vector<std::string>& trainer_options();
const std::vector<std::string>& backbone_options();

// Each method's training entry point, also called directly by tests.
std::string train_embedding_method(const TrainOptions& options);
std::string train_lora_method(const TrainOptions& options);
std::string train_classifier_method(const TrainOptions& options);

}  // namespace qsenti
