#include "methods/classifier.h"

#include "util/error.h"

namespace qsenti {

std::unique_ptr<TextClassifier> load_classifier(const std::string& run_dir, const PredictOptions& options) {
  RunManifest m = RunManifest::load(run_dir);
  if (m.method == "embedding") return load_embedding_classifier(run_dir, m, options);
  if (m.method == "lora") return load_lora_classifier(run_dir, m, options);
  if (m.method == "classifier") return load_seqcls_classifier(run_dir, m, options);
  throw InputError(run_dir + ": unknown method \"" + m.method + "\"");
}

}  // namespace qsenti
