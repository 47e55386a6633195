#pragma once
// Classification metrics from true labels and predicted class probabilities.
//
// The predicted class is the arg-max of a row (the lowest index on a tie).
// Conventions (as scikit-learn with zero_division=0):
//  - precision is 0 for a class never predicted, recall 0 for a class with no
//    true examples, F1 0 when precision + recall is 0: never NaN;
//  - macro F1 averages the classes that occur among the true or the predicted
//    labels; balanced accuracy averages recall over the classes that occur
//    among the true labels; weighted F1 weights each class by its support;
//  - ROC AUC (two classes only, scored by the probability of class 1) is the
//    Mann-Whitney statistic, a tied pair counting 1/2; it is absent when one
//    class has no true examples;
//  - log loss is the mean of -ln p(true class), p clamped to >= 1e-15.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qsenti {

struct ClassMetrics {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;    // true examples of the class
  int64_t predicted = 0;  // examples predicted as the class
};

struct Metrics {
  int64_t n = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  double weighted_f1 = 0;
  double balanced_accuracy = 0;
  double log_loss = 0;
  std::optional<double> roc_auc;
  std::vector<ClassMetrics> per_class;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
};

// probs: one row of K = class_names.size() probabilities per example. Throws
// qsenti::Error on empty input, mismatched sizes or a label outside [0, K).
Metrics compute_metrics(const std::vector<int64_t>& labels,
                        const std::vector<std::vector<double>>& probs,
                        const std::vector<std::string>& class_names);
// The same with probabilities in one row-major buffer of N * K values.
Metrics compute_metrics_flat(const std::vector<int64_t>& labels, const std::vector<double>& probs,
                             const std::vector<std::string>& class_names);

// Mann-Whitney ROC AUC of `scores` for binary `positive` flags; nullopt when
// either class is missing.
std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

// {"n", "accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "log_loss",
//  "roc_auc" (only when defined), "classes": [{"name", "precision", "recall",
//  "f1", "support", "predicted"}], "confusion_matrix": [[...]]}
nlohmann::json to_json(const Metrics& m);

// A table like scikit-learn's classification_report, then balanced accuracy,
// ROC AUC, log loss and the confusion matrix (rows = true, columns = predicted).
std::string format_report(const Metrics& m);

}  // namespace qsenti
