// qsenti eval: a run folder scored on a labelled file through the generic
// loader (load_classifier + TextClassifier), as table or JSON, with the
// run's label set deciding which labels are valid.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/dataset.h"
#include "methods/classifier.h"
#include "methods/method.h"
#include "model/loading.h"
#include "train/metrics.h"
#include "train/train_options.h"
#include "test_util.h"

namespace qsenti {
namespace {

class EvalCommand : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    write_random_model(Qwen3Config::preset("tiny"), *dir_ / "model", 11, torch::kFloat32);
    // 200 Weibo rows from both ends of the file (the tail is mostly negative).
    std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::ofstream out(*dir_ / "data.tsv");
    for (size_t i = 0; i < 100; ++i) out << lines[i] << "\n" << lines[lines.size() - 1 - i] << "\n";
    out.close();
    TrainOptions o;
    o.method = "embedding";
    o.model = *dir_ / "model";
    o.train_path = *dir_ / "data.tsv";
    o.out = *dir_ / "run";
    o.epochs = 2;
    o.no_cache = true;
    o.quiet = true;
    // One thread: the machine's other jobs make OpenMP barriers crawl.
    const int threads = torch::get_num_threads();
    torch::set_num_threads(1);
    train_embedding_method(o);
    torch::set_num_threads(threads);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& rel) { return *dir_ / rel; }
  static test::TempDir* dir_;
};
test::TempDir* EvalCommand::dir_ = nullptr;

TEST_F(EvalCommand, JsonMatchesTheLibraryAndTheTableIsTheDefault) {
  auto r = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("data.tsv") + " --json --batch-size 7");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j.at("n"), 200);
  EXPECT_EQ(j.at("method"), "embedding");
  ASSERT_EQ(j.at("classes").size(), 2u);
  EXPECT_EQ(j.at("classes")[0].at("support").get<int64_t>() + j.at("classes")[1].at("support").get<int64_t>(), 200);
  ASSERT_TRUE(j.contains("roc_auc"));
  int64_t total = 0;
  for (const auto& row : j.at("confusion_matrix"))
    for (const auto& c : row) total += c.get<int64_t>();
  EXPECT_EQ(total, 200);

  // The same numbers as scoring the classifier directly.
  auto clf = load_classifier(path("run"));
  Dataset d = read_dataset(path("data.tsv"), {DataFormat::kAuto, false, LabelSet(clf->labels())});
  torch::Tensor p = clf->predict_proba(d.texts).to(torch::kFloat64).contiguous();
  Metrics m = compute_metrics_flat(d.labels, std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel()),
                                   clf->labels());
  EXPECT_NEAR(j.at("accuracy").get<double>(), m.accuracy, 1e-12);
  EXPECT_NEAR(j.at("weighted_f1").get<double>(), m.weighted_f1, 1e-12);
  EXPECT_NEAR(j.at("roc_auc").get<double>(), *m.roc_auc, 1e-6);
  // Scored in steps of 16 batches (here 112 + 88 texts), with a progress line on stderr.
  auto progress = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("data.tsv") +
                                   " --json --batch-size 7 2>&1 >/dev/null");
  EXPECT_NE(progress.output.find("eval: 200 texts"), std::string::npos) << progress.output;
  auto quiet = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("data.tsv") +
                                " --json --quiet 2>&1 >/dev/null");
  EXPECT_EQ(quiet.output, "");

  auto t = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("data.tsv"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(t.output, "run " + path("run") + " (method embedding) on " + path("data.tsv") + ": 200 examples\n\n" +
                          format_report(m));
}

TEST_F(EvalCommand, LabelsOutsideTheRunsSetAreBadRows) {
  // The run was trained on 0/1 (the binary set): negative/positive and 负面/正面 are
  // the same classes; "neutral" is not one of them.
  test::write_file(path("mixed.tsv"), "好开心\tpositive\n太差了\t负面\n还行吧\tneutral\n真不错\t1\n");
  auto strict = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("mixed.tsv"), true);
  EXPECT_EQ(strict.exit_code, 3) << strict.output;
  EXPECT_NE(strict.output.find("mixed.tsv:3"), std::string::npos) << strict.output;

  auto skip = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("mixed.tsv") + " --skip-bad-rows --json");
  ASSERT_EQ(skip.exit_code, 0) << skip.output;
  const auto j = nlohmann::json::parse(skip.output);
  EXPECT_EQ(j.at("n"), 3);
  EXPECT_EQ(j.at("bad_rows"), 1);
  EXPECT_EQ(j.at("classes")[1].at("support"), 2);
}

TEST_F(EvalCommand, ReportsMissingRunsAndBadOptions) {
  auto missing = test::run_qsenti("eval --threads 1 --run " + path("nowhere") + " --data " + path("data.tsv"), true);
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find("manifest.json"), std::string::npos) << missing.output;
  auto bad = test::run_qsenti("eval --threads 1 --run " + path("run") + " --data " + path("data.tsv") + " --batch-size 0", true);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  auto usage = test::run_qsenti("eval --data " + path("data.tsv"), true);
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace qsenti
