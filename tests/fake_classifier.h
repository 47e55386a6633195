#pragma once
// A test-only TextClassifier and run folders for it, so that predict's
// plumbing (files, resume, ensembles, the interactive loop) is tested without
// training a model: the positive probability is sigmoid(bias ± 2), + when the
// text contains "好", where bias comes from the run's manifest (extra.bias).
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "methods/classifier.h"
#include "predict/interactive.h"

namespace qsenti::test {

inline double fake_positive_probability(const std::string& text, double bias) {
  const double z = bias + (text.find("好") != std::string::npos ? 2.0 : -2.0);
  return 1.0 / (1.0 + std::exp(-z));
}

class FakeClassifier : public TextClassifier {
 public:
  explicit FakeClassifier(RunManifest m) : m_(std::move(m)) {}
  const RunManifest& manifest() const override { return m_; }
  torch::Tensor predict_proba(const std::vector<std::string>& texts) override {
    const double bias = m_.extra.value("bias", 0.0);
    const auto k = static_cast<int64_t>(m_.labels.size());
    torch::Tensor p = torch::zeros({static_cast<int64_t>(texts.size()), k}, torch::kFloat32);
    for (size_t i = 0; i < texts.size(); ++i) {
      seen->push_back(texts[i]);
      const double pos = fake_positive_probability(texts[i], bias);
      // Two classes: [1-pos, pos]; more: the rest of the mass spread evenly.
      p[i][k - 1] = pos;
      for (int64_t c = 0; c + 1 < k; ++c) p[i][c] = (1 - pos) / static_cast<double>(k - 1);
    }
    return p;
  }
  std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();

 private:
  RunManifest m_;
};

// Writes a run folder whose manifest the fake loader understands.
inline std::string make_fake_run(const std::string& dir, const std::string& method, const std::string& size,
                                 double bias, std::vector<std::string> labels = {"negative", "positive"},
                                 double valid_accuracy = -1) {
  RunManifest m;
  m.method = method;
  m.model_size = size;
  m.labels = std::move(labels);
  m.extra = {{"bias", bias}};
  if (valid_accuracy >= 0) m.metrics = {{"valid", {{"accuracy", valid_accuracy}}}};
  m.created = utc_now_iso8601();
  m.save(dir);
  return dir;
}

// A loader opening fake runs; every text any of them saw is appended to `seen`.
inline ClassifierLoader fake_loader(std::shared_ptr<std::vector<std::string>> seen = nullptr,
                                    std::shared_ptr<std::vector<std::string>> loaded = nullptr) {
  return [seen, loaded](const std::string& dir) -> std::unique_ptr<TextClassifier> {
    auto c = std::make_unique<FakeClassifier>(RunManifest::load(dir));
    if (seen) c->seen = seen;
    if (loaded) loaded->push_back(dir);
    return c;
  };
}

}  // namespace qsenti::test
