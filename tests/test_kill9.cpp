// kill -9 at random moments, then the command again: nothing lost, nothing
// corrupt. Training resumed (`train --resume RUN`) ends with the weights of a
// run never interrupted; `predict --file` resumed from its .partial writes
// the file an uninterrupted run writes. The delays are random but seeded, and
// printed, so a failure can be replayed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "io/safetensors.h"
#include "test_util.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> split_args(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `args` and SIGKILLs it after `delay_s` unless it ended first; true if it was killed.
bool run_and_kill(const std::vector<std::string>& args, double delay_s, const std::string& log, int* rc) {
  const pid_t pid = test::spawn_qsenti(args, log);
  const auto until = Clock::now() + std::chrono::duration<double>(delay_s);
  while (Clock::now() < until) {
    *rc = test::reap(pid, false);
    if (*rc >= 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  *rc = test::reap(pid);
  return true;
}

// Runs `args` until this run has written a checkpoint of its own (so each
// trial makes progress, however slow the machine), then SIGKILLs it
// `delay_s` later, wherever it is (checkpoints are written at every step).
// True if it was killed.
bool run_and_kill_after_a_checkpoint(const std::vector<std::string>& args, const std::string& run, double delay_s,
                                     const std::string& log, int* rc) {
  const fs::path latest = fs::path(run) / "checkpoints" / "latest";
  const std::string before = fs::exists(latest) ? read_all(latest.string()) : "";
  const pid_t pid = test::spawn_qsenti(args, log);
  const auto give_up = Clock::now() + std::chrono::seconds(300);
  while (Clock::now() < give_up && (!fs::exists(latest) || read_all(latest.string()) == before)) {
    *rc = test::reap(pid, false);
    if (*rc >= 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto until = Clock::now() + std::chrono::duration<double>(delay_s);
  while (Clock::now() < until) {
    *rc = test::reap(pid, false);
    if (*rc >= 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  *rc = test::reap(pid);
  return true;
}

double seconds_of(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void expect_same_adapter(const std::string& a, const std::string& b) {
  SafetensorsFile fa(a), fb(b);
  ASSERT_EQ(fa.entries().size(), fb.entries().size());
  // Bit-identical on Debian's LibTorch 1.13; the PyPI build's MKL kernels may
  // differ in the last bits after a resume (as the SIGTERM test allows).
  for (const auto& [name, e] : fa.entries())
    EXPECT_LE(test::max_abs_diff(fa.tensor(name), fb.tensor(name)), 1e-6) << name;
}

TEST(Kill9, TrainingKilledAtRandomMomentsThenResumedEqualsAnUninterruptedRun) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp, 320);
  // A checkpoint at every step, so many kills land in or near a checkpoint write.
  const std::string opts = "--method classifier --model " + test::fixture("refs/tiny-qwen3") + " --train " + data +
                           " --epochs 3 --batch-size 8 --lr 5e-3 --lora-r 4 --lora-alpha 8 --max-length 16"
                           " --dtype fp32 --valid-fraction 0.25 --save-every 1 --threads 1 --quiet";
  const double whole_s = seconds_of([&] {
    auto r = test::run_qsenti("train " + opts + " --out " + (tmp / "a"), true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  });

  std::cerr << "uninterrupted: " << whole_s << " s\n";
  // Each trial starts again (the model loads again) and is killed at a
  // random moment after its first checkpoint: within a few steps, so twelve
  // trials leave the run unfinished however loaded the machine is.
  std::mt19937 rng(20261203);
  std::uniform_real_distribution<double> delay(0.0, 0.05 * whole_s);
  const std::string b = tmp / "b", log = tmp / "log";
  int killed = 0, trials = 0, rc = -1;
  bool finished = false;
  for (; trials < 12 && !finished; ++trials) {
    // What a user would type: the first command again until a checkpoint
    // exists (a start with none is replaced), then --resume.
    const bool resumable = fs::exists(fs::path(b) / "checkpoints" / "latest");
    const auto args = split_args(resumable ? "train --resume " + b + " --quiet" : "train " + opts + " --out " + b);
    const double d = delay(rng);
    const bool k = run_and_kill_after_a_checkpoint(args, b, d, log, &rc);
    std::cerr << "trial " << trials + 1 << (resumable ? " (resume)" : " (start)") << ": "
              << (k ? "killed " + std::to_string(d) + " s after its first checkpoint (" +
                          read_all(fs::path(b) / "checkpoints" / "latest") + ")"
                    : "finished, rc " + std::to_string(rc))
              << "\n";
    killed += k;
    // A kill that landed after the run was complete (its manifest written,
    // its checkpoints cleared) finds nothing left to resume.
    if (k && fs::exists(fs::path(b) / "manifest.json")) {
      finished = true;
      break;
    }
    if (!k) {
      ASSERT_EQ(rc, 0) << read_all(log);
      finished = true;
    }
  }
  EXPECT_GE(killed, 10);
  if (!finished) {
    ASSERT_TRUE(fs::exists(fs::path(b) / "checkpoints" / "latest"));
    auto r = test::run_qsenti("train --resume " + b + " --quiet", true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  expect_same_adapter(tmp / "a/adapter/adapter_model.safetensors", b + "/adapter/adapter_model.safetensors");
}

TEST(Kill9, KilledInsideACheckpointWriteResumesFromTheOneBefore) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp);
  const std::string opts = "--method classifier --model " + test::fixture("refs/tiny-qwen3") + " --train " + data +
                           " --epochs 1 --batch-size 8 --lr 5e-3 --lora-r 4 --lora-alpha 8 --max-length 16"
                           " --dtype fp32 --valid-fraction 0.25 --save-every 1 --threads 1 --quiet";
  auto r = test::run_qsenti("train " + opts + " --out " + (tmp / "a"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Dies after writing step 3's weights, before its optimizer state and `latest`.
  ::setenv("QSENTI_TEST_SIGKILL_IN_CHECKPOINT", "3", 1);
  int rc = -1;
  run_and_kill(split_args("train " + opts + " --out " + (tmp / "b")), 600, tmp / "log", &rc);
  ::unsetenv("QSENTI_TEST_SIGKILL_IN_CHECKPOINT");
  EXPECT_EQ(rc, 128 + SIGKILL) << read_all(tmp / "log");
  EXPECT_EQ(read_all(tmp / "b/checkpoints/latest"), "step-2\n");
  EXPECT_TRUE(fs::exists(tmp / "b/checkpoints/step-3.tmp"));  // the torn one, set aside
  r = test::run_qsenti("train --resume " + (tmp / "b") + " --quiet", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_adapter(tmp / "a/adapter/adapter_model.safetensors", tmp / "b/adapter/adapter_model.safetensors");
}

TEST(Kill9, PredictFileKilledAtRandomMomentsThenRerunWritesTheSameFile) {
  test::TempDir tmp;
  // A transformers classifier folder (random weights): predict opens it as a run.
  auto r = test::run_qsenti("init --preset tiny --num-labels 2 --dtype fp32 --seed 5 --out " + (tmp / "clf"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
  std::ofstream texts(tmp / "texts.tsv");
  std::string line;
  for (int i = 0; i < 3000 && std::getline(in, line); ++i) texts << line << "\n";
  texts.close();
  const std::string opts = "predict --run " + (tmp / "clf") + " --file " + (tmp / "texts.tsv") +
                           " --batch-size 8 --threads 1 --quiet --out ";
  const double whole_s = seconds_of([&] {
    auto p = test::run_qsenti(opts + (tmp / "a.jsonl"), true);
    ASSERT_EQ(p.exit_code, 0) << p.output;
  });
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> delay(0.1 * whole_s, 0.5 * whole_s);
  int killed = 0, rc = -1;
  bool finished = false;
  for (int t = 0; t < 12 && !finished; ++t) {
    const bool k = run_and_kill(split_args(opts + (tmp / "b.jsonl")), delay(rng), tmp / "log", &rc);
    killed += k;
    if (!k) {
      ASSERT_EQ(rc, 0) << read_all(tmp / "log");
      finished = true;
    }
  }
  EXPECT_GE(killed, 3);
  if (!finished) {
    auto p = test::run_qsenti(opts + (tmp / "b.jsonl"), true);
    ASSERT_EQ(p.exit_code, 0) << p.output;
  }
  EXPECT_FALSE(fs::exists(tmp / "b.jsonl.partial"));
  // Row for row the same texts and labels; the probabilities within 1e-5
  // (a resumed run batches the rest differently, and MKL's kernels, in the
  // PyPI build, round by batch shape).
  std::ifstream fa(tmp / "a.jsonl"), fb(tmp / "b.jsonl");
  std::string la, lb;
  size_t rows = 0;
  while (std::getline(fa, la)) {
    ASSERT_TRUE(std::getline(fb, lb)) << "the resumed file ends at row " << rows;
    const auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    ASSERT_EQ(ja.at("text"), jb.at("text")) << "row " << rows;
    EXPECT_EQ(ja.at("label"), jb.at("label")) << "row " << rows;
    for (const auto& [k, v] : ja.at("probabilities").items())
      EXPECT_NEAR(v.get<double>(), jb.at("probabilities").at(k).get<double>(), 1e-5) << "row " << rows;
    ++rows;
  }
  EXPECT_FALSE(std::getline(fb, lb)) << "the resumed file has more rows";
  EXPECT_EQ(rows, 3000u);
}

TEST(Kill9, EmbedKilledAtRandomMomentsKeepsAnIntactCacheAndTheSameVectors) {
  test::TempDir tmp;
  std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
  std::ofstream texts(tmp / "texts.tsv");
  std::string line;
  for (int i = 0; i < 2000 && std::getline(in, line); ++i) texts << line << "\n";
  texts.close();
  const std::string opts = "embed --model " + test::fixture("refs/tiny-qwen3") + " --data " + (tmp / "texts.tsv") +
                           " --max-length 32 --dtype fp32 --threads 1 --json-lines --quiet";
  const double whole_s = seconds_of([&] {
    auto r = test::run_qsenti(opts + " --no-cache --out " + (tmp / "a.jsonl"), true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  });
  // Killed while it appends vectors to the cache's shards (a torn last
  // record is the likely damage), several times, then run to the end.
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> delay(0.2 * whole_s, 0.8 * whole_s);
  const auto args = split_args(opts + " --cache-dir " + (tmp / "cache") + " --out " + (tmp / "b.jsonl"));
  int killed = 0, rc = -1;
  for (int t = 0; t < 5; ++t) killed += run_and_kill(args, delay(rng), tmp / "log", &rc);
  EXPECT_GE(killed, 3);
  auto r = test::run_qsenti(opts + " --cache-dir " + (tmp / "cache") + " --out " + (tmp / "b.jsonl"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream fa(tmp / "a.jsonl"), fb(tmp / "b.jsonl");
  std::string la, lb;
  size_t rows = 0;
  double worst = 0;
  while (std::getline(fa, la)) {
    ASSERT_TRUE(std::getline(fb, lb)) << "row " << rows;
    const auto va = nlohmann::json::parse(la).at("embedding").get<std::vector<double>>();
    const auto vb = nlohmann::json::parse(lb).at("embedding").get<std::vector<double>>();
    ASSERT_EQ(va.size(), vb.size());
    for (size_t k = 0; k < va.size(); ++k) worst = std::max(worst, std::abs(va[k] - vb[k]));
    ++rows;
  }
  EXPECT_EQ(rows, 2000u);
  EXPECT_LE(worst, 1e-5);
  // Run again: every vector now comes from the cache, and they are the same.
  r = test::run_qsenti(opts + " --cache-dir " + (tmp / "cache") + " --out " + (tmp / "c.jsonl"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_all(tmp / "c.jsonl"), read_all(tmp / "b.jsonl"));
}

}  // namespace
}  // namespace qsenti
