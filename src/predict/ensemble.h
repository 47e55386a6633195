#pragma once
// Several trained runs answering together: each run's class probabilities,
// and their mean as the ensemble's answer. Runs must share one label set
// (same names in the same order); otherwise averaging would mix classes.
#include <memory>
#include <string>
#include <vector>

#include "methods/classifier.h"

namespace qsenti {

// Throws InputError naming both runs and their labels when any run's label
// set (label_sets[i], of the run names[i]) differs from the first's.
void require_same_labels(const std::vector<std::vector<std::string>>& label_sets,
                         const std::vector<std::string>& names);

// The element-wise mean of [n, K] probability tensors (fp32).
torch::Tensor mean_probabilities(const std::vector<torch::Tensor>& probabilities);

// A TextClassifier over member classifiers: predict_proba is the mean of the
// members' probabilities; member_probabilities() gives each member's answer,
// for printing them side by side (the mean of those is predict_proba's).
class EnsembleClassifier : public TextClassifier {
 public:
  // `names` label the members in output (run folder names); throws as
  // require_same_labels. Needs at least one member.
  EnsembleClassifier(std::vector<std::unique_ptr<TextClassifier>> members, std::vector<std::string> names);

  const RunManifest& manifest() const override { return manifest_; }
  torch::Tensor predict_proba(const std::vector<std::string>& texts) override;
  // The most any member cut (each member sees every text).
  int64_t truncated_texts() const override;
  int64_t max_length() const override;

  size_t size() const { return members_.size(); }
  const std::vector<std::string>& member_names() const { return names_; }
  TextClassifier& member(size_t i) { return *members_[i]; }
  // Each member's probabilities for `texts` ([n, K] fp32 each), in member order.
  std::vector<torch::Tensor> member_probabilities(const std::vector<std::string>& texts);

 private:
  std::vector<std::unique_ptr<TextClassifier>> members_;
  std::vector<std::string> names_;
  RunManifest manifest_;
};

}  // namespace qsenti
