// Ten classes end to end, for each method on the tiny random model: train,
// eval (a 10x10 confusion matrix, 10 per-class scores) and predict (10
// probabilities that sum to 1), through the binary as a user would. The
// model is random, so only the shapes and the bookkeeping are checked.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace qsenti {
namespace {

// 10 labels "0".."9", 12 rows each, in a CSV shaped as users' files are
// (an extra column first, the text last): also exercises the column options.
std::string write_ten_class_csv(const test::TempDir& tmp) {
  const char* words[] = {"苹果", "香蕉", "天气", "电影", "足球", "音乐", "旅行", "工作", "美食", "手机"};
  std::ostringstream out;
  out << "cat,label,review\n";
  for (int i = 0; i < 120; ++i) {
    const int k = i % 10;
    out << "c" << k << "," << k << ",\"" << words[k] << "，第" << i << "条" << (i % 3 ? "，很好" : "") << "\"\n";
  }
  test::write_file(tmp / "ten.csv", out.str());
  return tmp / "ten.csv";
}

class TenClasses : public ::testing::TestWithParam<std::string> {};

TEST_P(TenClasses, TrainEvalPredict) {
  const std::string method = GetParam();
  test::TempDir tmp;
  const std::string data = write_ten_class_csv(tmp);
  const std::string run = tmp / "run";
  std::string extra = method == "embedding" ? " --no-cache --epochs 2" : " --max-steps 2 --lora-r 4 --lora-alpha 8";
  auto train = test::run_qsenti("train --method " + method + " --model " + test::fixture("refs/tiny-qwen3") +
                                    " --train " + data + " --text-column review --label-column label --out " + run +
                                    " --batch-size 8 --max-length 128 --dtype fp32 --threads 1 --quiet" + extra +
                                    " < /dev/null",
                                true);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const auto manifest = test::read_json(run + "/manifest.json");
  ASSERT_EQ(manifest["labels"].size(), 10u) << manifest.dump();
  const auto options = test::read_json(run + "/train_options.json");
  EXPECT_EQ(options["text_column"], "review");
  EXPECT_EQ(options["label_column"], "label");

  // eval takes the run's columns for a file shaped as its training file.
  auto eval = test::run_qsenti("eval --run " + run + " --data " + data + " --json --threads 1 --quiet");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const auto metrics = nlohmann::json::parse(eval.output);
  EXPECT_EQ(metrics["n"], 120);
  ASSERT_EQ(metrics["classes"].size(), 10u);
  ASSERT_EQ(metrics["confusion_matrix"].size(), 10u);
  int64_t total = 0;
  for (const auto& row : metrics["confusion_matrix"]) {
    ASSERT_EQ(row.size(), 10u);
    for (const auto& v : row) total += v.get<int64_t>();
  }
  EXPECT_EQ(total, 120);

  auto predict = test::run_qsenti("predict --run " + run + " --file " + data +
                                  " --text-column review --out - --threads 1 --quiet");
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  std::istringstream lines(predict.output);
  int rows = 0;
  for (std::string line; std::getline(lines, line); ++rows) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j["probabilities"].size(), 10u) << line;
    double sum = 0;
    for (const auto& [name, p] : j["probabilities"].items()) sum += p.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-5) << line;
    EXPECT_EQ(j["true_label"], (rows % 10)) << line;
  }
  EXPECT_EQ(rows, 120);
}

INSTANTIATE_TEST_SUITE_P(Methods, TenClasses, ::testing::Values("embedding", "lora", "classifier"));

}  // namespace
}  // namespace qsenti
