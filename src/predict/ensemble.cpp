#include "predict/ensemble.h"

#include <algorithm>

#include "util/error.h"

namespace qsenti {

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return "[" + s + "]";
}
}  // namespace

void require_same_labels(const std::vector<std::vector<std::string>>& label_sets,
                         const std::vector<std::string>& names) {
  for (size_t i = 1; i < label_sets.size(); ++i) {
    if (label_sets[i] != label_sets[0])
      throw InputError("cannot combine runs with different label sets: " + names.at(0) + " has " +
                       join(label_sets[0]) + ", " + names.at(i) + " has " + join(label_sets[i]) +
                       " (an ensemble averages class probabilities, so every run must be trained on the same labels)");
  }
}

torch::Tensor mean_probabilities(const std::vector<torch::Tensor>& probabilities) {
  if (probabilities.empty()) throw Error("an ensemble needs at least one run");
  torch::Tensor sum = probabilities[0].to(torch::kFloat32).clone();
  for (size_t i = 1; i < probabilities.size(); ++i) {
    if (probabilities[i].sizes() != sum.sizes()) throw Error("ensemble members answered with different shapes");
    sum += probabilities[i].to(torch::kFloat32);
  }
  return sum / static_cast<double>(probabilities.size());
}

EnsembleClassifier::EnsembleClassifier(std::vector<std::unique_ptr<TextClassifier>> members,
                                       std::vector<std::string> names)
    : members_(std::move(members)), names_(std::move(names)) {
  if (members_.empty()) throw Error("an ensemble needs at least one run");
  if (names_.size() != members_.size()) throw Error("ensemble: one name per member expected");
  std::vector<std::vector<std::string>> label_sets;
  for (const auto& m : members_) label_sets.push_back(m->labels());
  require_same_labels(label_sets, names_);
  manifest_.method = "ensemble";
  manifest_.labels = members_[0]->labels();
  manifest_.extra = {{"members", names_}};
}

std::vector<torch::Tensor> EnsembleClassifier::member_probabilities(const std::vector<std::string>& texts) {
  std::vector<torch::Tensor> out;
  for (auto& m : members_) out.push_back(m->predict_proba(texts).to(torch::kFloat32).contiguous());
  return out;
}

int64_t EnsembleClassifier::truncated_texts() const {
  int64_t n = -1;
  for (const auto& m : members_) n = std::max(n, m->truncated_texts());
  return n;
}

int64_t EnsembleClassifier::max_length() const {
  int64_t limit = 0;  // one limit only when the members agree
  for (size_t i = 0; i < members_.size(); ++i)
    if (i == 0) limit = members_[i]->max_length();
    else if (members_[i]->max_length() != limit) return 0;
  return limit;
}

torch::Tensor EnsembleClassifier::predict_proba(const std::vector<std::string>& texts) {
  return mean_probabilities(member_probabilities(texts));
}

}  // namespace qsenti
