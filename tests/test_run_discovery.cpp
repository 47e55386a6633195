// Finding runs and the conventional folders; the size prompt of `train`.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/size_prompt.h"
#include "fake_classifier.h"
#include "predict/run_discovery.h"
#include "test_util.h"
#include "util/error.h"

namespace qsenti {
namespace {

using test::make_fake_run;
using test::TempDir;

TEST(RunDiscovery, ConventionalFolders) {
  EXPECT_EQ(conventional_base_model("models", "embedding", "0.6B"), "models/Qwen3-Embedding-0.6B");
  EXPECT_EQ(conventional_base_model("models", "lora", "4B"), "models/Qwen3-4B");
  EXPECT_EQ(conventional_base_model("m", "classifier", "8B"), "m/Qwen3-8B");
  EXPECT_EQ(conventional_run_dir("models", "embedding", "0.6B"), "models/embedding-0.6B");
  EXPECT_EQ(conventional_run_dir("/x/models", "classifier", "4B"), "/x/models/classifier-4B");
}

TEST(RunDiscovery, FindsRunsSortedByMethodAndSizeAndReportsBrokenOnes) {
  TempDir dir;
  make_fake_run(dir / "classifier-0.6B", "classifier", "0.6B", 0);
  make_fake_run(dir / "embedding-4B", "embedding", "4B", 0);
  make_fake_run(dir / "embedding-0.6B", "embedding", "0.6B", 0, {"negative", "positive"}, 0.8531);
  make_fake_run(dir / "lora-0.6B", "lora", "0.6B", 0);
  std::filesystem::create_directories(dir / "Qwen3-0.6B");  // a base model, not a run
  std::filesystem::create_directories(dir / "broken");
  test::write_file(dir / "broken/manifest.json", "{not json");
  RunSearch s = find_runs(dir.path());
  ASSERT_EQ(s.runs.size(), 4u);
  EXPECT_EQ(s.runs[0].name(), "embedding-0.6B");
  EXPECT_EQ(s.runs[1].name(), "embedding-4B");
  EXPECT_EQ(s.runs[2].name(), "lora-0.6B");
  EXPECT_EQ(s.runs[3].name(), "classifier-0.6B");
  EXPECT_NE(s.runs[0].describe().find("valid accuracy 0.853"), std::string::npos) << s.runs[0].describe();
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_NE(s.problems[0].find("broken"), std::string::npos);
  EXPECT_TRUE(find_runs(dir / "missing").runs.empty());
}

TEST(RunDiscovery, ResolvesMethodAndSizeToTheConventionalRun) {
  TempDir dir;
  make_fake_run(dir / "embedding-0.6B", "embedding", "0.6B", 0);
  make_fake_run(dir / "embedding-4B", "embedding", "4B", 0);
  make_fake_run(dir / "my-classifier", "classifier", "0.6B", 0);
  RunSelection sel;
  sel.models_dir = dir.path();
  EXPECT_FALSE(resolve_single_run(sel).has_value());
  sel.method = "embedding";
  sel.model_size = "4B";
  EXPECT_EQ(*resolve_single_run(sel), dir / "embedding-4B");
  // Not in the conventional folder, but the only run of that method.
  sel.method = "classifier";
  sel.model_size = "";
  EXPECT_EQ(*resolve_single_run(sel), dir / "my-classifier");
  // Two embedding runs: ambiguous without a size (usage error).
  sel.method = "embedding";
  try {
    resolve_single_run(sel);
    FAIL() << "expected an ambiguity error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("embedding-4B"), std::string::npos);
  }
  // Missing: bad input naming the folder looked at and how to train one.
  sel.method = "lora";
  sel.model_size = "8B";
  try {
    resolve_single_run(sel);
    FAIL() << "expected a missing-run error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("lora-8B"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("qsenti train --method lora --model-size 8B"), std::string::npos);
  }
  // An explicit --run wins, and must be a run.
  sel.run_dirs = {dir / "my-classifier"};
  EXPECT_EQ(*resolve_single_run(sel), dir / "my-classifier");
  sel.run_dirs = {dir.path() + "/nothing"};
  EXPECT_THROW(resolve_single_run(sel), InputError);
}

TEST(SizePrompt, AsksUntilASizeIsChosen) {
  std::istringstream in("7\n  4B \n");
  std::ostringstream out;
  EXPECT_EQ(cli::ask_model_size(in, out, "embedding", "models"), std::optional<std::string>("4B"));
  EXPECT_NE(out.str().find("models/Qwen3-Embedding-0.6B"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("\"7\" is not a size"), std::string::npos);
  std::istringstream by_number("3\n");
  EXPECT_EQ(cli::ask_model_size(by_number, out, "lora", "models"), std::optional<std::string>("8B"));
  std::istringstream quit("q\n");
  EXPECT_FALSE(cli::ask_model_size(quit, out, "lora", "models").has_value());
  std::istringstream eof("");
  EXPECT_FALSE(cli::ask_model_size(eof, out, "lora", "models").has_value());
}

TEST(SizePrompt, TrainFillsModelAndOutFromTheConventionalFolders) {
  TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  std::filesystem::create_directories("models/Qwen3-Embedding-4B");
  std::ostringstream prompt, log;
  std::string model, out, size;
  std::istringstream in("2\n");
  cli::complete_train_paths(model, out, size, "embedding", /*interactive=*/true, in, prompt, log);
  EXPECT_EQ(size, "4B");
  EXPECT_EQ(model, "models/Qwen3-Embedding-4B");
  EXPECT_EQ(out, "models/embedding-4B");
  // Not a terminal: 0.6B, whose folder is missing -> a clear error.
  model = out = size = "";
  std::istringstream none("");
  try {
    cli::complete_train_paths(model, out, size, "classifier", false, none, prompt, log);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("models/Qwen3-0.6B"), std::string::npos) << e.what();
  }
  // An explicit model keeps its path; --out comes from its size or name.
  model = test::fixture("refs/tiny-qwen3");
  out = size = "";
  cli::complete_train_paths(model, out, size, "lora", false, none, prompt, log);
  EXPECT_EQ(model, test::fixture("refs/tiny-qwen3"));
  EXPECT_EQ(out, "models/lora-tiny-qwen3");
  std::filesystem::current_path(cwd);
}

}  // namespace
}  // namespace qsenti
