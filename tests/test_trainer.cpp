// The shared training loop: schedules, length-grouped batching, checkpoints,
// exact resume after an interruption, NaN handling and the best weights, on a
// small logistic-regression task with dropout (so the RNG state matters).
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "io/dataset.h"
#include "text/tokenizer.h"
#include "text/length_batching.h"
#include "train/checkpoint.h"
#include "train/schedule.h"
#include "train/trainer.h"
#include "util/error.h"
#include "test_util.h"

namespace qsenti {
namespace {

TEST(TrainerSchedule, WarmupThenCosineLinearConstant) {
  LrSchedule s{"cosine", 1.0, 10, 110};
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1.0);
  EXPECT_NEAR(s.lr_at(60), 0.5, 1e-12);   // half-way through the decay
  EXPECT_NEAR(s.lr_at(110), 0.0, 1e-12);
  s.kind = "linear";
  EXPECT_NEAR(s.lr_at(35), 0.75, 1e-12);
  EXPECT_NEAR(s.lr_at(110), 0.0, 1e-12);
  s.kind = "constant";
  EXPECT_DOUBLE_EQ(s.lr_at(3), 0.3);
  EXPECT_DOUBLE_EQ(s.lr_at(100), 1.0);
  s.kind = "step";
  EXPECT_THROW(s.lr_at(50), Error);
  EXPECT_EQ(warmup_steps_for(0.06, 100), 6);
  EXPECT_EQ(warmup_steps_for(0.001, 100), 1);
  EXPECT_EQ(warmup_steps_for(0.0, 100), 0);
}

TEST(TrainerBatching, SeededCompleteAndDifferentPerEpoch) {
  std::vector<int64_t> lengths;
  for (int i = 0; i < 1000; ++i) lengths.push_back(1 + (i * 37) % 200);
  BatchingOptions o;
  o.batch_size = 32;
  o.seed = 7;
  auto a = length_grouped_batches(lengths, 0, o);
  auto b = length_grouped_batches(lengths, 0, o);
  auto c = length_grouped_batches(lengths, 1, o);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int> seen(lengths.size(), 0);
  for (const auto& batch : a) {
    EXPECT_LE(batch.size(), 32u);
    for (size_t i : batch) seen[i]++;
  }
  for (int s : seen) EXPECT_EQ(s, 1);
  EXPECT_EQ(a.size(), 32u);  // ceil(1000 / 32)
  o.pool_batches = 1;
  EXPECT_GT(padding_overhead(length_grouped_batches(lengths, 0, o), lengths), padding_overhead(a, lengths));
}

TEST(TrainerBatching, PaddingUnderTenPercentOnWeiboLengths) {
  Dataset d = read_dataset(test::source_path("data/weibo2018/train.tsv"));
  auto tok = Tokenizer::for_model("");
  std::vector<int64_t> lengths;
  for (const auto& ids : tok->encode_batch(d.texts, SpecialTokens::kAsText, 127))
    lengths.push_back(static_cast<int64_t>(ids.size()) + 1);
  BatchingOptions o;
  o.batch_size = 32;
  for (uint64_t seed : {1, 2, 3}) {
    o.seed = seed;
    const double overhead = padding_overhead(length_grouped_batches(lengths, 0, o), lengths);
    EXPECT_LT(overhead, 0.10) << "seed " << seed;
  }
  o.pool_batches = 1;
  EXPECT_GT(padding_overhead(length_grouped_batches(lengths, 0, o), lengths), 0.3);  // what grouping saves
}

// Logistic regression with dropout on the input: 2 classes, linearly separable.
class ToyTask : public TrainingTask {
 public:
  explicit ToyTask(int64_t n = 96, int64_t dim = 8) {
    torch::manual_seed(3);
    x_ = torch::randn({n, dim});
    torch::Tensor w = torch::randn({dim});
    y_ = (torch::matmul(x_, w) > 0).to(torch::kInt64);
    torch::manual_seed(11);
    weight_ = (torch::randn({2, dim}) * 0.1).requires_grad_(true);
    bias_ = torch::zeros({2}).requires_grad_(true);
    for (int64_t i = 0; i < n; ++i) lengths_.push_back(1 + (i * 7) % 13);
    valid_ = torch::arange(n - 32, n);
  }
  std::vector<TrainableParameter> trainable_parameters() override {
    return {{"head.weight", weight_, true}, {"head.bias", bias_, false}};
  }
  std::vector<int64_t> train_lengths() override { return lengths_; }
  BatchLoss loss(const std::vector<size_t>& indices) override {
    ++calls;
    std::vector<int64_t> idx(indices.begin(), indices.end());
    torch::Tensor i = torch::tensor(idx, torch::kInt64);
    torch::Tensor h = torch::dropout(x_.index_select(0, i), 0.2, true);
    torch::Tensor logits = torch::linear(h, weight_, bias_);
    torch::Tensor l = torch::nn::functional::cross_entropy(logits, y_.index_select(0, i));
    if (nan_at_call > 0 && calls == nan_at_call) l = l * std::numeric_limits<double>::quiet_NaN();
    return {l, static_cast<int64_t>(indices.size()) * 10};
  }
  bool has_validation() const override { return true; }
  Metrics validate() override {
    ++validations;
    torch::NoGradGuard ng;
    torch::Tensor p = torch::softmax(torch::linear(x_.index_select(0, valid_), weight_, bias_), -1).to(torch::kFloat64);
    std::vector<double> flat(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    torch::Tensor yv = y_.index_select(0, valid_);
    std::vector<int64_t> labels(yv.data_ptr<int64_t>(), yv.data_ptr<int64_t>() + yv.numel());
    return compute_metrics_flat(labels, flat, {"a", "b"});
  }
  torch::Tensor weight_, bias_;
  int64_t calls = 0, validations = 0, nan_at_call = 0;

 private:
  torch::Tensor x_, y_, valid_;
  std::vector<int64_t> lengths_;
};

TrainerConfig toy_config(const std::string& dir) {
  TrainerConfig c;
  c.run_dir = dir;
  c.epochs = 3;
  c.batch_size = 8;
  c.grad_accum = 2;
  c.lr = 0.05;
  c.warmup_ratio = 0.1;
  c.quiet = true;
  c.handle_sigint = false;
  c.eval_every = 4;
  c.save_every = 3;
  c.length_pool_batches = 2;
  return c;
}

TEST(TrainerLoop, LearnsAndWritesHistoryCheckpointAndBest) {
  test::TempDir tmp;
  ToyTask task;
  Trainer t(task, toy_config(tmp.path()));
  EXPECT_EQ(t.steps_per_epoch(), 6);  // 12 batches of 8, 2 per step
  EXPECT_EQ(t.total_steps(), 18);
  TrainResult r = t.run();
  EXPECT_EQ(r.status, TrainResult::Status::kCompleted);
  EXPECT_EQ(r.steps, 18);
  EXPECT_EQ(r.epochs_completed, 3);
  EXPECT_GT(r.best_score, 0.8);
  EXPECT_EQ(task.calls, 36);
  ASSERT_TRUE(latest_checkpoint(tmp.path()).has_value());
  EXPECT_EQ(std::filesystem::path(*latest_checkpoint(tmp.path())).filename(), "step-18");
  EXPECT_TRUE(std::filesystem::exists(tmp / "best/trainable.safetensors"));
  std::ifstream h(tmp / "history.jsonl");
  int train_lines = 0, valid_lines = 0;
  for (std::string line; std::getline(h, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") {
      ++train_lines;
      EXPECT_TRUE(j.contains("loss") && j.contains("lr"));
    }
    if (j["type"] == "valid") {
      ++valid_lines;
      EXPECT_TRUE(j["metrics"].contains("accuracy"));
    }
  }
  EXPECT_EQ(train_lines, 18);
  EXPECT_EQ(valid_lines, 6);  // steps 4, 6 (epoch), 8, 12 (both), 16, 18 (epoch)
  // restore_best brings back the weights of the best validation.
  torch::Tensor last = task.weight_.detach().clone();
  ASSERT_TRUE(t.restore_best());
  Metrics m = task.validate();
  EXPECT_DOUBLE_EQ(m.accuracy, r.best_score);
  (void)last;
}

// The step folders under checkpoints/, oldest first.
std::vector<std::string> checkpoint_steps(const std::string& run) {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(run) / "checkpoints"))
    if (e.is_directory()) found.push_back({std::stoi(e.path().filename().string().substr(5)), e.path().filename()});
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (const auto& f : found) names.push_back(f.second);
  return names;
}

TEST(TrainerLoop, SaveTotalLimitKeepsTheNewestCheckpoints) {
  {
    test::TempDir tmp;
    ToyTask task;
    Trainer(task, toy_config(tmp.path())).run();
    EXPECT_EQ(checkpoint_steps(tmp.path()), std::vector<std::string>{"step-18"});  // the default: 1
  }
  test::TempDir tmp;
  ToyTask task;
  TrainerConfig c = toy_config(tmp.path());
  c.save_total_limit = 3;
  Trainer(task, c).run();
  // Saves every 3 steps (and at each epoch's end, 6, 12, 18): the newest three.
  EXPECT_EQ(checkpoint_steps(tmp.path()), (std::vector<std::string>{"step-12", "step-15", "step-18"}));
}

TEST(TrainerLoop, InterruptedThenResumedEqualsUninterrupted) {
  test::TempDir a_dir, b_dir;
  ToyTask a;
  Trainer(a, toy_config(a_dir.path())).run();

  for (int64_t stop : {5, 7}) {  // mid-epoch, between checkpoints; and after an epoch boundary
    SCOPED_TRACE(stop);
    std::filesystem::remove_all(b_dir.path());
    std::filesystem::create_directories(b_dir.path());
    {
      ToyTask b;
      TrainerConfig c = toy_config(b_dir.path());
      c.interrupt_after_step = stop;
      try {
        Trainer(b, c).run();
        FAIL() << "expected an interruption";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::kInterrupted);
        EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos);
      }
      // Other work between the runs must not matter.
      torch::manual_seed(999);
      torch::randn({100});
    }
    ToyTask b2;  // fresh process state: same initial weights, then the checkpoint
    TrainerConfig c = toy_config(b_dir.path());
    c.resume = true;
    TrainResult r = Trainer(b2, c).run();
    EXPECT_EQ(r.steps, 18);
    EXPECT_EQ(b2.calls, 36 - 2 * stop);
    EXPECT_TRUE(torch::equal(a.weight_, b2.weight_)) << test::max_abs_diff(a.weight_, b2.weight_);
    EXPECT_TRUE(torch::equal(a.bias_, b2.bias_));
    // The history has no duplicate steps after the resume.
    std::ifstream h(b_dir / "history.jsonl");
    std::vector<int64_t> steps;
    for (std::string line; std::getline(h, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] == "train") steps.push_back(j["step"]);
    }
    ASSERT_EQ(steps.size(), 18u);
    for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], static_cast<int64_t>(i) + 1);
  }
}

TEST(TrainerLoop, MaxStepsStopsAndResumeRefusesChangedBatchSize) {
  test::TempDir dir;
  ToyTask t;
  TrainerConfig c = toy_config(dir.path());
  c.max_steps = 4;
  TrainResult r = Trainer(t, c).run();
  EXPECT_EQ(r.status, TrainResult::Status::kMaxSteps);
  EXPECT_EQ(r.steps, 4);
  EXPECT_EQ(t.calls, 8);
  ToyTask t2;
  c.resume = true;
  c.batch_size = 4;
  EXPECT_THROW(Trainer(t2, c).run(), InputError);
  test::TempDir empty;
  TrainerConfig e = toy_config(empty.path());
  e.resume = true;
  ToyTask t3;
  EXPECT_THROW(Trainer(t3, e).run(), InputError);
}

TEST(TrainerLoop, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  test::TempDir dir;
  ToyTask t;
  t.nan_at_call = 9;  // the first micro-batch of step 5
  TrainerConfig c = toy_config(dir.path());
  c.save_every = 2;
  c.eval_every = 0;
  try {
    Trainer(t, c).run();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kFailure);
    EXPECT_NE(std::string(e.what()).find("loss is nan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step 5"), std::string::npos) << e.what();
  }
  ASSERT_TRUE(latest_checkpoint(dir.path()).has_value());
  EXPECT_EQ(std::filesystem::path(*latest_checkpoint(dir.path())).filename(), "step-4");
  // And the run can continue from it.
  ToyTask t2;
  c.resume = true;
  EXPECT_EQ(Trainer(t2, c).run().steps, 18);
}

TEST(TrainerCheckpoint, RngStateRoundTrips) {
  torch::manual_seed(5);
  auto s = cpu_rng_state();
  torch::Tensor a = torch::rand({4});
  torch::rand({10});
  set_cpu_rng_state(s);
  EXPECT_TRUE(torch::equal(a, torch::rand({4})));
}

// history.jsonl records the mean loss since its previous record, whether or
// not a progress line is drawn (it used to share the line's window, reset
// only when the line printed).
TEST(TrainerLoop, HistoryLossIsTheSameWithAndWithoutProgress) {
  auto losses = [](bool quiet) {
    test::TempDir tmp;
    ToyTask task;
    TrainerConfig c = toy_config(tmp.path());
    c.quiet = quiet;
    Trainer(task, c).run();
    std::vector<double> out;
    std::ifstream h(tmp / "history.jsonl");
    for (std::string line; std::getline(h, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] == "train") out.push_back(j["loss"].get<double>());
    }
    return out;
  };
  const std::vector<double> quiet = losses(true), shown = losses(false);
  ASSERT_EQ(quiet.size(), 18u);
  EXPECT_EQ(quiet, shown);
}

}  // namespace
}  // namespace qsenti

namespace qsenti {
// --patience: validations that score worse than the best, N in a row, end
// the run there (the best weights kept), and say so in the result.
class PlateauTask : public ToyTask {
 public:
  Metrics validate() override {
    ++validations;
    Metrics m;
    m.n = 1;
    m.accuracy = validations == 2 ? 0.9 : 0.5;  // the best is the second validation
    return m;
  }
};

TEST(TrainerLoop, PatienceStopsAfterNValidationsWithoutABetterScore) {
  qsenti::test::TempDir dir;
  PlateauTask t;
  TrainerConfig c = toy_config(dir.path());
  c.grad_accum = 1;
  c.eval_every = 1;
  c.save_every = 0;
  c.patience = 2;
  TrainResult r = Trainer(t, c).run();
  EXPECT_EQ(r.status, TrainResult::Status::kEarlyStopped);
  EXPECT_EQ(r.best_step, 2);
  EXPECT_EQ(r.steps, 4);           // validations at steps 1..4: best at 2, then 2 worse
  EXPECT_EQ(t.validations, 4);
  EXPECT_EQ(r.to_json()["status"], "early_stopped");

  qsenti::test::TempDir dir2;
  PlateauTask t2;
  c.run_dir = dir2.path();
  c.patience = 0;  // off: every epoch runs
  TrainResult all = Trainer(t2, c).run();
  EXPECT_EQ(all.status, TrainResult::Status::kCompleted);
  EXPECT_GT(all.steps, 4);
}

}  // namespace qsenti
