#include "methods/classifier.h"

#include "io/weight_store.h"

#include <filesystem>

#include "methods/hf_run.h"
#include "methods/method.h"
#include "methods/model_resolver.h"
#include "util/error.h"

namespace qsenti {

namespace {
ModelResolver& installed_resolver() {
  static ModelResolver r;
  return r;
}
}  // namespace

void set_model_resolver(ModelResolver resolver) { installed_resolver() = std::move(resolver); }

std::string resolve_model(const std::string& model) {
  if (!installed_resolver() || std::filesystem::is_directory(model)) return model;
  return installed_resolver()(model);
}

std::string run_base_model(const std::string& run_dir, const RunManifest& m, const PredictOptions& options) {
  std::string base = options.base_model.empty() ? m.base_model : options.base_model;
  const bool peft = m.extra.value("source", "") == "peft";
  // A peft adapter records its base as transformers does, often a repo id:
  // its cached (or downloaded) folder. qsenti's own runs record a folder,
  // and --base was resolved by the CLI already.
  if (peft && options.base_model.empty() && !base.empty()) base = resolve_model(base);
  if (!std::filesystem::is_directory(base)) {
    throw InputError(run_dir + ": base model " + (base.empty() ? std::string("(none named)") : base) +
                     (peft ? " is not a local folder; give it with --base DIR"
                           : " not found (moved? give its folder with --base DIR)"));
  }
  // The adapter (B, C with LoRA) was trained on these exact weights: on any
  // other it would answer, wrongly, without a word.
  if (!m.base_model_fingerprint.empty() && model_fingerprint(base) != m.base_model_fingerprint)
    throw InputError(run_dir + ": base model " + base +
                     " changed since training (its fingerprint differs from manifest.json's); the adapter only "
                     "fits the weights it was trained on: restore them, or give their folder with --base DIR");
  return base;
}

std::string describe_truncation(const TextClassifier& classifier, int64_t texts) {
  const int64_t n = classifier.truncated_texts();
  if (n <= 0) return "";
  const int64_t limit = classifier.max_length();
  return "note: " + std::to_string(n) + " of " + std::to_string(texts) + " texts were longer than " +
         (limit > 0 ? std::to_string(limit) + " tokens" : std::string("the run's maximum length")) +
         " and were truncated (--max-length)";
}

torch::Tensor TextClassifier::embed(const std::vector<std::string>&) {
  throw Error("a " + manifest().method + " run has no sentence vectors to give; embeddings come from method A "
              "(embedding) runs");
}

std::string run_adapter_dir(const std::string& run_dir, const RunManifest& m) {
  return m.extra.value("adapter_dir", (std::filesystem::path(run_dir) / "adapter").string());
}

std::string run_model_dir(const std::string& run_dir, const RunManifest& m) {
  return m.extra.value("model_dir", (std::filesystem::path(run_dir) / "model").string());
}

std::unique_ptr<TextClassifier> load_classifier(const std::string& run_dir, const PredictOptions& options) {
  RunManifest m = open_run_manifest(run_dir);  // its method is one of the table's (run_manifest.cpp checks)
  return method_named(m.method, run_dir).load(run_dir, m, options);
}

}  // namespace qsenti
