#pragma once
// The one small interface every method's trained run offers to predict, eval
// and the ensemble: texts in, label probabilities out.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "methods/run_manifest.h"

namespace qsenti {

struct PredictOptions {
  std::string dtype = "auto";  // auto | fp32 | bf16
  int64_t batch_size = 16;
  int64_t max_length = 0;      // 0 = what the run was trained with
};

class TextClassifier {
 public:
  virtual ~TextClassifier() = default;
  virtual const RunManifest& manifest() const = 0;
  const std::vector<std::string>& labels() const { return manifest().labels; }
  // Probabilities [texts.size(), labels().size()] (fp32, rows sum to 1).
  virtual torch::Tensor predict_proba(const std::vector<std::string>& texts) = 0;
};

// Opens a run folder and builds the method's classifier from its manifest.
std::unique_ptr<TextClassifier> load_classifier(const std::string& run_dir, const PredictOptions& options = {});

// Each method's loader (src/methods/<method>_method.cpp).
std::unique_ptr<TextClassifier> load_embedding_classifier(const std::string& run_dir, const RunManifest& m,
                                                         const PredictOptions& options);
std::unique_ptr<TextClassifier> load_lora_classifier(const std::string& run_dir, const RunManifest& m,
                                                    const PredictOptions& options);
std::unique_ptr<TextClassifier> load_seqcls_classifier(const std::string& run_dir, const RunManifest& m,
                                                      const PredictOptions& options);

}  // namespace qsenti
