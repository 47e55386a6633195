// Classification metrics, checked against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "model/losses.h"
#include "train/metrics.h"
#include "util/error.h"

using namespace qsenti;

namespace {

const std::vector<std::string> kBinary = {"negative", "positive"};

// Two-class probability rows from P(class 1).
std::vector<std::vector<double>> binary_probs(const std::vector<double>& p1) {
  std::vector<std::vector<double>> out;
  for (double p : p1) out.push_back({1 - p, p});
  return out;
}

}  // namespace

TEST(Metrics, BinaryHandComputed) {
  // Predictions (arg-max): 0 1 0 1 1 against truth 0 0 1 1 1.
  const std::vector<int64_t> y = {0, 0, 1, 1, 1};
  Metrics m = compute_metrics(y, binary_probs({0.1, 0.6, 0.4, 0.8, 0.8}), kBinary);
  EXPECT_EQ(m.n, 5);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{1, 1}, {1, 2}}));
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  ASSERT_EQ(m.per_class.size(), 2u);
  EXPECT_EQ(m.per_class[0].name, "negative");
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.5);
  EXPECT_EQ(m.per_class[0].support, 2);
  EXPECT_EQ(m.per_class[0].predicted, 2);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class[1].recall, 2.0 / 3);
  EXPECT_NEAR(m.per_class[1].f1, 2.0 / 3, 1e-12);
  EXPECT_EQ(m.per_class[1].support, 3);
  EXPECT_NEAR(m.macro_f1, (0.5 + 2.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(m.weighted_f1, (0.5 * 2 + 2.0 / 3 * 3) / 5, 1e-12);
  EXPECT_NEAR(m.balanced_accuracy, (0.5 + 2.0 / 3) / 2, 1e-12);
  // Positive scores {0.4, 0.8, 0.8} vs negative {0.1, 0.6}: 5 of 6 pairs.
  ASSERT_TRUE(m.roc_auc.has_value());
  EXPECT_NEAR(*m.roc_auc, 5.0 / 6, 1e-12);
  const double ll = -(std::log(0.9) + std::log(0.4) + std::log(0.4) + std::log(0.8) +
                      std::log(0.8)) / 5;
  EXPECT_NEAR(m.log_loss, ll, 1e-12);
}

TEST(Metrics, RocAucCountsTiesAsHalf) {
  // Pairs (pos, neg): (0.5,0.5)=1/2, (0.5,0.2)=1, (0.7,0.5)=1, (0.7,0.2)=1.
  auto auc = roc_auc({0.5, 0.7, 0.5, 0.2}, {true, true, false, false});
  ASSERT_TRUE(auc.has_value());
  EXPECT_DOUBLE_EQ(*auc, 3.5 / 4);
  EXPECT_DOUBLE_EQ(*roc_auc({0.3, 0.3, 0.3}, {true, false, true}), 0.5);
  EXPECT_DOUBLE_EQ(*roc_auc({0.9, 0.1}, {false, true}), 0.0);
  EXPECT_DOUBLE_EQ(*roc_auc({0.1, 0.9}, {false, true}), 1.0);
  // A larger case with many ties against a brute-force count.
  std::vector<double> s;
  std::vector<bool> pos;
  for (int i = 0; i < 60; ++i) {
    s.push_back((i * 7 % 5) / 4.0);
    pos.push_back(i % 3 == 0);
  }
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    for (size_t j = 0; j < s.size(); ++j) {
      if (!pos[i] || pos[j]) continue;
      pairs += 1;
      wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    }
  }
  EXPECT_NEAR(*roc_auc(s, pos), wins / pairs, 1e-12);
}

TEST(Metrics, RocAucAbsentWhenAClassIsMissing) {
  EXPECT_FALSE(roc_auc({0.2, 0.9}, {true, true}).has_value());
  EXPECT_FALSE(roc_auc({}, {}).has_value());
  Metrics m = compute_metrics({1, 1, 1}, binary_probs({0.9, 0.2, 0.7}), kBinary);
  EXPECT_FALSE(m.roc_auc.has_value());
  EXPECT_FALSE(to_json(m).contains("roc_auc"));
  // Class 0 has no support and is predicted once: precision 0, recall 0, F1 0.
  EXPECT_DOUBLE_EQ(m.per_class[0].precision, 0.0);
  EXPECT_DOUBLE_EQ(m.per_class[0].recall, 0.0);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 2.0 / 3);  // only class 1 is present
  EXPECT_NEAR(m.macro_f1, (0 + 0.8) / 2, 1e-12);   // class 0 was predicted
}

TEST(Metrics, ClassNeverPredictedHasZeroPrecisionNotNaN) {
  // Truth 0 1 2 2, predicted 0 1 1 1: class 2 is never predicted.
  const std::vector<std::vector<double>> p = {
      {0.8, 0.1, 0.1}, {0.1, 0.7, 0.2}, {0.2, 0.5, 0.3}, {0.1, 0.6, 0.3}};
  Metrics m = compute_metrics({0, 1, 2, 2}, p, {"a", "b", "c"});
  EXPECT_EQ(m.confusion,
            (std::vector<std::vector<int64_t>>{{1, 0, 0}, {0, 1, 0}, {0, 2, 0}}));
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class[1].recall, 1.0);
  EXPECT_DOUBLE_EQ(m.per_class[1].f1, 0.5);
  EXPECT_EQ(m.per_class[2].predicted, 0);
  EXPECT_DOUBLE_EQ(m.per_class[2].precision, 0.0);
  EXPECT_FALSE(std::isnan(m.per_class[2].f1));
  EXPECT_DOUBLE_EQ(m.per_class[2].f1, 0.0);
  EXPECT_DOUBLE_EQ(m.macro_f1, 0.5);                  // (1 + 0.5 + 0) / 3
  EXPECT_DOUBLE_EQ(m.weighted_f1, 0.375);             // (1 + 0.5 + 0 * 2) / 4
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 2.0 / 3);     // (1 + 1 + 0) / 3
  EXPECT_FALSE(m.roc_auc.has_value());                // three classes
  const double ll = -(std::log(0.8) + std::log(0.7) + 2 * std::log(0.3)) / 4;
  EXPECT_NEAR(m.log_loss, ll, 1e-12);
}

TEST(Metrics, ClassAbsentEverywhereIsLeftOutOfMacroAverages) {
  Metrics m = compute_metrics({0, 1}, {{0.9, 0.05, 0.05}, {0.1, 0.8, 0.1}}, {"a", "b", "c"});
  EXPECT_DOUBLE_EQ(m.macro_f1, 1.0);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 1.0);
  EXPECT_EQ(m.per_class[2].support, 0);
  EXPECT_DOUBLE_EQ(m.per_class[2].f1, 0.0);
}

TEST(Metrics, ArgMaxTieTakesTheLowestClassAndLogLossIsClamped) {
  Metrics m = compute_metrics({1}, {{0.5, 0.5}}, kBinary);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{0, 0}, {1, 0}}));
  Metrics z = compute_metrics({1}, {{1.0, 0.0}}, kBinary);
  EXPECT_NEAR(z.log_loss, -std::log(1e-15), 1e-9);
}

TEST(Metrics, FlatBufferMatchesRows) {
  const std::vector<int64_t> y = {0, 1, 1, 0};
  const std::vector<double> flat = {0.7, 0.3, 0.4, 0.6, 0.2, 0.8, 0.45, 0.55};
  Metrics a = compute_metrics_flat(y, flat, kBinary);
  Metrics b = compute_metrics(y, binary_probs({0.3, 0.6, 0.8, 0.55}), kBinary);
  EXPECT_EQ(a.confusion, b.confusion);
  EXPECT_DOUBLE_EQ(a.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(*a.roc_auc, *b.roc_auc);
  EXPECT_DOUBLE_EQ(*a.roc_auc, 1.0);
}

TEST(Metrics, RejectsInconsistentInput) {
  EXPECT_THROW(compute_metrics({}, {}, kBinary), Error);
  EXPECT_THROW(compute_metrics({0, 1}, binary_probs({0.5}), kBinary), Error);
  EXPECT_THROW(compute_metrics({0}, {{0.2, 0.3, 0.5}}, kBinary), Error);
  EXPECT_THROW(compute_metrics({2}, {{0.5, 0.5}}, kBinary), Error);
  EXPECT_THROW(compute_metrics({-1}, {{0.5, 0.5}}, kBinary), Error);
  EXPECT_THROW(compute_metrics({0}, {{NAN, 0.5}}, kBinary), Error);
  EXPECT_THROW(compute_metrics_flat({0, 1}, {0.5, 0.5, 0.5}, kBinary), Error);
}

TEST(Metrics, Json) {
  Metrics m = compute_metrics({0, 0, 1, 1, 1}, binary_probs({0.1, 0.6, 0.4, 0.8, 0.8}), kBinary);
  nlohmann::json j = to_json(m);
  EXPECT_EQ(j["n"], 5);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.6);
  EXPECT_NEAR(j["roc_auc"].get<double>(), 5.0 / 6, 1e-12);
  EXPECT_NEAR(j["macro_f1"].get<double>(), m.macro_f1, 0);
  EXPECT_NEAR(j["weighted_f1"].get<double>(), 0.6, 1e-12);
  EXPECT_TRUE(j.contains("balanced_accuracy"));
  EXPECT_TRUE(j.contains("log_loss"));
  ASSERT_EQ(j["classes"].size(), 2u);
  EXPECT_EQ(j["classes"][1]["name"], "positive");
  EXPECT_EQ(j["classes"][1]["support"], 3);
  EXPECT_EQ(j["classes"][0]["predicted"], 2);
  EXPECT_EQ(j["confusion_matrix"], nlohmann::json::parse("[[1,1],[1,2]]"));
}

TEST(Metrics, ReportReadsLikeAClassificationReport) {
  Metrics m = compute_metrics({0, 0, 1, 1, 1}, binary_probs({0.1, 0.6, 0.4, 0.8, 0.8}), kBinary);
  const std::string r = format_report(m);
  std::istringstream in(r);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_GE(lines.size(), 13u);
  EXPECT_EQ(lines[0], "             precision    recall  f1-score   support");
  EXPECT_EQ(lines[2], "    negative    0.5000    0.5000    0.5000         2");
  EXPECT_EQ(lines[3], "    positive    0.6667    0.6667    0.6667         3");
  EXPECT_EQ(lines[5], "    accuracy                        0.6000         5");
  EXPECT_EQ(lines[6], "   macro avg    0.5833    0.5833    0.5833         5");
  EXPECT_EQ(lines[7], "weighted avg    0.6000    0.6000    0.6000         5");
  EXPECT_NE(r.find("balanced accuracy  0.5833"), std::string::npos);
  EXPECT_NE(r.find("ROC AUC            0.8333"), std::string::npos);
  EXPECT_NE(r.find("confusion matrix (rows = true, columns = predicted):\n"
                   "            negative  positive\n"
                   "  negative         1         1\n"
                   "  positive         1         2\n"),
            std::string::npos)
      << r;
}

TEST(Metrics, ReportAlignsWideCharacters) {
  // 负面 is four terminal columns wide, though six bytes long.
  Metrics m = compute_metrics({0, 1}, binary_probs({0.2, 0.9}), {"负面", "正面"});
  const std::string r = format_report(m);
  EXPECT_NE(r.find("\n        负面    1.0000    1.0000    1.0000         1\n"), std::string::npos)
      << r;
  EXPECT_NE(r.find("\n        负面  正面\n  负面     1     0\n"), std::string::npos) << r;
}

TEST(ClassWeights, BalancedIsCountInverse) {
  // 6 of class 0, 2 of class 1, none of class 2: n / (k x count).
  torch::Tensor w = qsenti::balanced_class_weights({0, 0, 0, 0, 0, 0, 1, 1}, 3);
  ASSERT_EQ(w.numel(), 3);
  EXPECT_NEAR(w[0].item<float>(), 8.0 / (3 * 6), 1e-6);
  EXPECT_NEAR(w[1].item<float>(), 8.0 / (3 * 2), 1e-6);
  EXPECT_EQ(w[2].item<float>(), 0.f);
}
