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
  std::string device = "auto";  // auto | cpu | cuda | cuda:N (device/device.h)
  int64_t batch_size = 16;
  int64_t max_length = 0;      // 0 = what the run was trained with
  // Hugging Face folders opened as runs (methods/hf_run.h): the base model of
  // a peft adapter whose base_model_name_or_path is no local folder, and the
  // label words of a CAUSAL_LM adapter (one per label; default 负面,正面).
  std::string base_model;
  std::vector<std::string> label_words;
  // The model's own inner progress line (method A's embedder). Off: predict,
  // eval and serve draw their own line over the texts, one line in all.
  bool inner_progress = false;
};

class TextClassifier {
 public:
  virtual ~TextClassifier() = default;
  virtual const RunManifest& manifest() const = 0;
  const std::vector<std::string>& labels() const { return manifest().labels; }
  // Probabilities [texts.size(), labels().size()] (fp32 on the CPU, rows sum to 1).
  virtual torch::Tensor predict_proba(const std::vector<std::string>& texts) = 0;
  // The vectors the run classifies from, for runs that have them (method A:
  // Qwen3-Embedding's L2-normalised last-token vectors, [texts.size(), dim],
  // fp32 on the CPU). Other runs: can_embed() false, embed() an Error.
  virtual bool can_embed() const { return false; }
  virtual torch::Tensor embed(const std::vector<std::string>& texts);
  // Texts predict_proba cut to the run's max length so far (-1: not counted),
  // so that eval and predict can say how many were not read in full.
  virtual int64_t truncated_texts() const { return -1; }
  // The token limit those texts were cut to (0: unknown).
  virtual int64_t max_length() const { return 0; }
};

// "note: 3 of 120 texts were longer than 256 tokens and were truncated (--max-length)"
// or "" when none was, or the classifier does not count.
std::string describe_truncation(const TextClassifier& classifier, int64_t texts);

// Opens a run folder and builds the method's classifier from its manifest.
std::unique_ptr<TextClassifier> load_classifier(const std::string& run_dir, const PredictOptions& options = {});

// The base model folder a run's adapter applies to: options.base_model when
// given, else the manifest's; InputError naming the run when it is not a folder.
std::string run_base_model(const std::string& run_dir, const RunManifest& m, const PredictOptions& options);

// Where a run keeps its peft adapter (RUN/adapter) and its full weights
// (RUN/model), or the Hugging Face folder itself when one was opened as a run.
std::string run_adapter_dir(const std::string& run_dir, const RunManifest& m);
std::string run_model_dir(const std::string& run_dir, const RunManifest& m);

}  // namespace qsenti
