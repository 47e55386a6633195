// The command line refuses what it would otherwise get silently wrong: bad
// numbers, options the method ignores, an existing run or model in --out;
// and `train` answers SIGTERM as Ctrl-C and continues from `--resume RUN`
// alone.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/safetensors.h"
#include "methods/run_manifest.h"
#include "text/tokenizer.h"
#include "util/assets.h"
#include "util/interrupt.h"
#include "test_util.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;
using test::fixture;

// The base model does not exist: a check that ran after loading would exit 3.
const std::string kTrain = "train --method classifier --model /nonexistent/model --out /nonexistent/run --train ";

TEST(CliChecks, BadTrainNumbersExit2BeforeAnythingLoads) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp);
  for (const char* bad : {"--lr -1", "--lr 0", "--batch-size 0", "--epochs -1", "--lora-r 0", "--lora-alpha -2",
                          "--grad-accum 0", "--warmup-ratio 2", "--max-steps -3", "--eval-every -1",
                          "--save-every -5", "--valid-fraction 1", "--valid-fraction 0", "--lora-dropout 1",
                          "--max-length 0", "--weight-decay -0.1", "--max-grad-norm -1", "--threads -2",
                          "--warmup-ratio x"}) {
    auto r = test::run_qsenti(kTrain + data + " " + bad, true);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.output;
    const std::string option = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(r.output.find(option), std::string::npos) << bad << "\n" << r.output;
  }
  // Values on the edge are accepted (they reach the model folder, exit 3).
  for (const char* ok : {"--warmup-ratio 0", "--warmup-ratio 1", "--lora-dropout 0", "--max-steps 0"}) {
    auto r = test::run_qsenti(kTrain + data + " " + ok, true);
    EXPECT_EQ(r.exit_code, 3) << ok << "\n" << r.output;
  }
}

TEST(CliChecks, BadPredictEvalEmbedNumbersExit2) {
  for (const char* cmd : {"predict --run /nonexistent --text x --max-length -3",
                          "predict --run /nonexistent --text x --batch-size 0",
                          "eval --run /nonexistent --data x.tsv --max-length -1",
                          "eval --run /nonexistent --data x.tsv --batch-size -4",
                          "embed --model /nonexistent --data x.tsv --out y --max-length 0"}) {
    auto r = test::run_qsenti(cmd, true);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.output;
  }
}

TEST(CliChecks, OptionsTheMethodIgnoresAreRefused) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp);
  struct Case {
    const char* method;
    const char* option;
  };
  for (const Case& c : {Case{"embedding", "--lora-r 8"}, Case{"embedding", "--grad-checkpointing"},
                        Case{"embedding", "--full"}, Case{"classifier", "--template chat"},
                        Case{"lora", "--full"}, Case{"classifier", "--head logreg"},
                        Case{"lora", "--no-cache"}, Case{"lora", "--class-weights auto"}}) {
    auto r = test::run_qsenti(std::string("train --method ") + c.method + " --model /nonexistent --train " + data +
                                  " " + c.option,
                              true);
    EXPECT_EQ(r.exit_code, 2) << c.method << " " << c.option << "\n" << r.output;
    const std::string option = std::string(c.option).substr(0, std::string(c.option).find(' '));
    EXPECT_NE(r.output.find(option + " is not used by method " + c.method), std::string::npos) << r.output;
  }
  auto r = test::run_qsenti("train --train " + data, true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--method is required"), std::string::npos) << r.output;
  r = test::run_qsenti("train --method classifier --model /nonexistent", true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--train is required"), std::string::npos) << r.output;
}

TEST(CliChecks, InitAndTrainRefuseToOverwriteWithoutTheFlag) {
  test::TempDir tmp;
  const std::string model = tmp / "m";
  ASSERT_EQ(test::run_qsenti("init --preset tiny --out " + model + " --seed 1").exit_code, 0);
  const auto first = fs::last_write_time(model + "/config.json");
  auto r = test::run_qsenti("init --preset tiny --out " + model + " --seed 2", true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("already holds a model; pass --overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(fs::last_write_time(model + "/config.json"), first);
  // A stale file of the old model does not survive --overwrite.
  test::write_file(model + "/model-00002-of-00002.safetensors", "old shard");
  r = test::run_qsenti("init --preset tiny --out " + model + " --seed 2 --overwrite", true);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(model + "/model-00002-of-00002.safetensors"));
  // A folder of other files is never removed, flag or not.
  fs::create_directories(tmp / "mine");
  test::write_file(tmp / "mine/notes.txt", "keep me");
  r = test::run_qsenti("init --preset tiny --out " + (tmp / "mine") + " --overwrite", true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "mine/notes.txt"));

  // train: an existing run folder.
  const std::string data = test::write_toy_sentiment_data(tmp);
  fs::create_directories(tmp / "run");
  test::write_file(tmp / "run/manifest.json", "{}");
  r = test::run_qsenti("train --method classifier --model " + model + " --train " + data + " --out " + (tmp / "run"),
                       true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("already holds a run; pass --overwrite to replace it, or --resume"), std::string::npos)
      << r.output;
  // A start that failed before its first checkpoint (a typo in --train) is
  // no run to protect: the corrected command just runs.
  const std::string again = "train --method classifier --model " + model + " --out " + (tmp / "typo") + " --train ";
  r = test::run_qsenti(again + (tmp / "no-such.tsv"), true);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("cannot open"), std::string::npos) << r.output;
  r = test::run_qsenti(again + (tmp / "no-such-either.tsv"), true);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_EQ(r.output.find("already holds"), std::string::npos) << r.output;
  // Bad numbers say what is wanted.
  r = test::run_qsenti("train --method classifier --model /x --train y --lr -1", true);
  EXPECT_NE(r.output.find("--lr: '-1' must be above 0"), std::string::npos) << r.output;
}

TEST(CliChecks, DeclaredLabelsTrainAStraySetThatIsRefusedOtherwise) {
  test::TempDir tmp;
  std::string rows;
  for (int i = 0; i < 40; ++i) rows += std::string(i % 2 ? "今天很好\t1\n" : "今天很差\t0\n");
  rows += "一般般\t7\n";
  test::write_file(tmp / "d.tsv", rows);
  const std::string base = "train --method classifier --full --model " + fixture("refs/tiny-qwen3") + " --train " +
                           (tmp / "d.tsv") + " --epochs 1 --batch-size 16 --max-length 8 --dtype fp32 --quiet --out ";
  auto r = test::run_qsenti(base + (tmp / "a"), true);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("d.tsv:41: label '7' does not fit"), std::string::npos) << r.output;
  r = test::run_qsenti(base + (tmp / "b") + " --labels 0,1,7", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(RunManifest::load(tmp / "b").labels, (std::vector<std::string>{"0", "1", "7"}));
}

TEST(CliChecks, AnAdapterRunRefusesABaseModelThatChanged) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp);
  ASSERT_EQ(test::run_qsenti("init --preset tiny --dtype fp32 --seed 1 --out " + (tmp / "m")).exit_code, 0);
  auto r = test::run_qsenti("train --method classifier --model " + (tmp / "m") + " --train " + data +
                                " --out " + (tmp / "run") + " --epochs 1 --batch-size 16 --lora-r 2 --lora-alpha 4 "
                                "--max-length 12 --dtype fp32 --quiet",
                            true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::run_qsenti("predict --run " + (tmp / "run") + " --text 好 --quiet").exit_code, 0);
  // The same path, other weights: before, the adapter answered on them silently.
  ASSERT_EQ(test::run_qsenti("init --preset tiny --dtype fp32 --seed 2 --overwrite --out " + (tmp / "m")).exit_code, 0);
  r = test::run_qsenti("predict --run " + (tmp / "run") + " --text 好 --quiet", true);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("changed since training"), std::string::npos) << r.output;
}

TEST(Interrupt, ScopesNestAndResetOnlyAtTheOutermost) {
  {
    InterruptScope outer;
    EXPECT_FALSE(interrupt_requested());
    ::raise(SIGTERM);  // handled: sets the flag, the process lives
    EXPECT_TRUE(interrupt_requested());
    EXPECT_EQ(interrupt_signal(), SIGTERM);
    EXPECT_STREQ(interrupt_name(), "SIGTERM");
    {
      InterruptScope inner;
      EXPECT_TRUE(interrupt_requested());  // an inner scope keeps the pending request
    }
  }
  InterruptScope again;
  EXPECT_FALSE(interrupt_requested());
}

// Starts `qsenti args` in the background; returns its pid (written by the shell).
pid_t start_qsenti(const test::TempDir& tmp, const std::string& args, const std::string& log) {
  const std::string pidfile = tmp / "pid";
  test::run_shell("sh -c '" + std::string(qsenti::test::binary()) + " " + args + " > " + log + " 2>&1 & echo $! > " +
                  pidfile + "; wait $!; echo $? > " + (tmp / "rc") + "' > /dev/null 2>&1 &");
  for (int i = 0; i < 500 && !fs::exists(pidfile); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::ifstream in(pidfile);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Interrupt, SigtermCheckpointsAndResumeAloneFinishesTheSameRun) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp);
  const std::string opts = "--model " + fixture("refs/tiny-qwen3") + " --train " + data +
                           " --epochs 2 --batch-size 8 --lr 5e-3 --lora-r 4 --lora-alpha 8 --max-length 16 "
                           "--dtype fp32 --valid-fraction 0.25 --save-every 2 --threads 1";
  ASSERT_EQ(test::run_qsenti("train --method classifier --quiet " + opts + " --out " + (tmp / "a"), true).exit_code, 0);

  // Signalled as soon as it speaks (it prints before the first step): the
  // request is answered at the end of step 1 with a checkpoint.
  const std::string log = tmp / "log";
  pid_t pid = start_qsenti(tmp, "train --method classifier " + opts + " --out " + (tmp / "b"), log);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 3000 && read_all(log).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  for (int i = 0; i < 3000 && !fs::exists(tmp / "rc"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rc written, then closed
  EXPECT_EQ(read_all(tmp / "rc"), "130\n") << read_all(log);
  EXPECT_NE(read_all(log).find("interrupted by SIGTERM at step"), std::string::npos) << read_all(log);
  EXPECT_FALSE(RunManifest::exists(tmp / "b"));
  EXPECT_TRUE(fs::exists(tmp / "b/checkpoints"));

  // --resume alone: method, data and hyperparameters come from the folder.
  auto r = test::run_qsenti("train --resume " + (tmp / "b") + " --quiet", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  SafetensorsFile fa(tmp / "a/adapter/adapter_model.safetensors"), fb(tmp / "b/adapter/adapter_model.safetensors");
  ASSERT_EQ(fa.entries().size(), fb.entries().size());
  // Bit-identical on Debian's LibTorch 1.13; the PyPI build's MKL kernels
  // differ in the last bits after a resume (as ClassifierMethod's own resume test allows).
  for (const auto& [name, e] : fa.entries())
    EXPECT_LE(test::max_abs_diff(fa.tensor(name), fb.tensor(name)), 1e-6) << name;
  // A finished run keeps no resume state (the optimizer's moments), unless asked.
  EXPECT_FALSE(fs::exists(tmp / "a/checkpoints"));
  EXPECT_FALSE(fs::exists(tmp / "b/checkpoints"));
  EXPECT_TRUE(fs::exists(tmp / "b/best/trainable.safetensors"));
  ASSERT_EQ(test::run_qsenti("train --method classifier --quiet --keep-checkpoints --max-steps 2 " + opts + " --out " +
                                 (tmp / "c"),
                             true)
                .exit_code,
            0);
  EXPECT_TRUE(fs::exists(tmp / "c/checkpoints/latest"));
}

TEST(Assets, QsentiHomeComesFirstThenTheBuildsOwn) {
  test::TempDir tmp;
  const std::string own = assets_dir();
  EXPECT_TRUE(fs::exists(fs::path(own) / "qwen3-tokenizer" / "tokenizer.json"));
  fs::create_directories(tmp / "assets/qwen3-tokenizer");
  fs::copy_file(fs::path(own) / "qwen3-tokenizer" / "tokenizer.json", tmp / "assets/qwen3-tokenizer/tokenizer.json");
  const char* before = std::getenv("QSENTI_HOME");
  const std::string saved = before ? before : "";
  ::setenv("QSENTI_HOME", tmp.path().c_str(), 1);
  EXPECT_EQ(assets_dir(), tmp / "assets");
  // The tokenizer and the model writer ask the same place.
  EXPECT_EQ(Tokenizer::default_path(), tmp / "assets/qwen3-tokenizer/tokenizer.json");
  ::setenv("QSENTI_HOME", (tmp / "nothing-here").c_str(), 1);
  EXPECT_EQ(assets_dir(), own);
  if (before) ::setenv("QSENTI_HOME", saved.c_str(), 1);
  else ::unsetenv("QSENTI_HOME");
}

}  // namespace
}  // namespace qsenti

// The original scripts' spellings (its readme: --model_size, --model_type,
// --load_all, --batch_size) reach the same options as ours.
TEST(CliChecks, TheOriginalScriptsFlagSpellingsAreAccepted) {
  auto ours = qsenti::test::run_qsenti("train --method lora --model-size 4B --batch-size 0", true);
  auto theirs = qsenti::test::run_qsenti("train --model_type lora --model_size 4B --batch_size=0", true);
  EXPECT_EQ(ours.exit_code, 2) << ours.output;
  EXPECT_EQ(theirs.exit_code, 2) << theirs.output;
  EXPECT_NE(theirs.output.find("--batch-size"), std::string::npos) << theirs.output;  // the same check answered
  EXPECT_EQ(theirs.output.find("not expected"), std::string::npos) << theirs.output;
  auto help = qsenti::test::run_qsenti("--help");
  EXPECT_NE(help.output.find("--model_type = --method"), std::string::npos) << help.output;
  auto pred = qsenti::test::run_qsenti("predict --load_all --text x --run /nonexistent", true);
  EXPECT_EQ(pred.output.find("not expected"), std::string::npos) << pred.output;
}
