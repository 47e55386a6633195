// The interactive loop driven through streams (as a pipe would), and through
// a real pseudo-terminal with the binary.
#include <gtest/gtest.h>

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include "fake_classifier.h"
#include "predict/interactive.h"
#include "predict/predict_app.h"
#include "predict/prediction_table.h"
#include "test_util.h"
#include "util/error.h"

namespace qsenti {
namespace {

using test::make_fake_run;
using test::TempDir;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

struct InteractiveTest : ::testing::Test {
  TempDir dir;
  std::shared_ptr<std::vector<std::string>> seen = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<std::vector<std::string>> loaded = std::make_shared<std::vector<std::string>>();
  void SetUp() override {
    make_fake_run(dir / "embedding-0.6B", "embedding", "0.6B", 2.0);
    make_fake_run(dir / "classifier-0.6B", "classifier", "0.6B", -2.0);
  }
  std::string drive(const std::string& input, bool prompts, std::string initial = "", bool json = false) {
    std::istringstream in(input);
    std::ostringstream out;
    InteractiveOptions o;
    o.runs = find_runs(dir.path()).runs;
    o.initial_run = std::move(initial);
    o.load = test::fake_loader(seen, loaded);
    o.in = &in;
    o.out = &out;
    o.prompts = prompts;
    o.json = json;
    InteractiveSession session(std::move(o));
    answered = session.run();
    return out.str();
  }
  int64_t answered = 0;
};

TEST_F(InteractiveTest, ChoosesARunThenAnswersEachLineUntilQ) {
  // Run 2 in the menu is classifier-0.6B (method order A, B, C).
  const std::string out = drive("2\n今天天气真好\n\n太失望了\nq\nnot read\n", false);
  EXPECT_EQ(answered, 2);
  EXPECT_EQ(*seen, (std::vector<std::string>{"今天天气真好", "太失望了"}));
  EXPECT_EQ(*loaded, (std::vector<std::string>{dir / "classifier-0.6B"}));
  EXPECT_EQ(count(out, "run: classifier-0.6B"), 2u) << out;
  EXPECT_NE(out.find(format_probability(test::fake_positive_probability("好", -2.0))), std::string::npos) << out;
  EXPECT_EQ(out.find("Choose"), std::string::npos) << "no prompts when not on a terminal";
}

TEST_F(InteractiveTest, ModelsSwitchAndCompare) {
  const std::string out = drive(
      "embedding 0.6B\nmodels\n好\nswitch\nnope\nclassifier-0.6B\n好\ncompare\n好\ncompare 坏\n", false, "", true);
  EXPECT_EQ(answered, 4);
  // models: both listed, the current one marked.
  EXPECT_NE(out.find(" *1) embedding-0.6B"), std::string::npos) << out;
  EXPECT_NE(out.find("  2) classifier-0.6B"), std::string::npos) << out;
  EXPECT_NE(out.find("no run \"nope\""), std::string::npos);
  // Answers as JSON lines: run, then run, then two comparisons.
  std::vector<nlohmann::json> answers;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] == '{') answers.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(answers.size(), 4u) << out;
  EXPECT_EQ(answers[0]["run"], "embedding-0.6B");
  EXPECT_EQ(answers[1]["run"], "classifier-0.6B");
  for (int i : {2, 3}) {
    const std::string text = i == 2 ? "好" : "坏";
    EXPECT_EQ(answers[i]["text"], text);
    ASSERT_EQ(answers[i]["runs"].size(), 2u);
    const double a = test::fake_positive_probability(text, 2.0), b = test::fake_positive_probability(text, -2.0);
    EXPECT_NEAR(answers[i]["runs"][0]["probabilities"]["positive"].get<double>(), a, 1e-6);
    EXPECT_NEAR(answers[i]["runs"][1]["probabilities"]["positive"].get<double>(), b, 1e-6);
    EXPECT_NEAR(answers[i]["ensemble"]["probabilities"]["positive"].get<double>(), (a + b) / 2, 2e-6);
  }
  // Each run is loaded once however often it is used.
  EXPECT_EQ(loaded->size(), 2u);
}

TEST_F(InteractiveTest, PromptsOnATerminalAndEndOfInputEnds) {
  const std::string out = drive("1\n好\n", true);
  EXPECT_NE(out.find("Trained runs"), std::string::npos) << out;
  EXPECT_NE(out.find("Choose a run [1-2]"), std::string::npos);
  EXPECT_NE(out.find("text> "), std::string::npos);
  EXPECT_EQ(answered, 1);
  // Quitting at the menu answers nothing.
  EXPECT_EQ(drive("q\n好\n", true).find("run: "), std::string::npos);
  EXPECT_EQ(answered, 0);
}

TEST_F(InteractiveTest, StartsWithTheRunGivenAndSurvivesABadRun) {
  std::filesystem::create_directories(dir / "broken");
  test::write_file(dir / "broken/manifest.json", R"({"method":"lora","labels":["a"]})");
  const std::string out = drive("好\n", false, dir / "embedding-0.6B");
  EXPECT_EQ(*loaded, (std::vector<std::string>{dir / "embedding-0.6B"}));
  EXPECT_EQ(answered, 1);
}

TEST_F(InteractiveTest, PredictAppRunsTheLoopOnStdinAndLoadAllCompares) {
  PredictRequest r;
  r.selection.models_dir = dir.path();
  r.selection.method = "embedding";
  r.selection.model_size = "0.6B";
  r.quiet = true;
  std::istringstream in("好\n坏\n");
  std::ostringstream out, err;
  PredictStreams s;
  s.in = &in;
  s.out = &out;
  s.err = &err;
  s.load = test::fake_loader(seen);
  run_predict(r, s);
  EXPECT_EQ(count(out.str(), "run: embedding-0.6B"), 2u) << out.str();
  // --load-all without texts: every line through every run and the ensemble.
  r.selection.method = r.selection.model_size = "";
  r.load_all = true;
  std::istringstream in2("好\n");
  out.str("");
  s.in = &in2;
  run_predict(r, s);
  EXPECT_NE(out.str().find("ensemble (mean)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("classifier-0.6B"), std::string::npos);
  // Several runs, none chosen, texts from a pipe: refused, not read as menu answers.
  r.load_all = false;
  std::istringstream in3("好\n坏\n");
  s.in = &in3;
  out.str("");
  try {
    run_predict(r, s);
    ADD_FAILURE() << out.str();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("choose one with --run"), std::string::npos) << e.what();
  }
  EXPECT_EQ(out.str(), "");
}

// The binary on a pseudo-terminal: the menu shows up, and it answers. Uses
// fake runs, which the real loader cannot open: the session reports the
// error and goes on, which is also what this checks.
TEST(InteractivePty, BinaryShowsTheMenuOnATerminal) {
  TempDir dir;
  make_fake_run(dir / "embedding-0.6B", "embedding", "0.6B", 0);
  make_fake_run(dir / "classifier-0.6B", "classifier", "0.6B", 0);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string models = dir.path();
    ::execl(qsenti::test::binary(), qsenti::test::binary(), "predict", "--models-dir", models.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto write_all = [&](const std::string& s) { ASSERT_EQ(::write(master, s.data(), s.size()), static_cast<ssize_t>(s.size())); };
  std::string screen;
  auto read_until = [&](const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    char buf[4096];
    while (screen.find(what) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(master, &fds);
      timeval tv{0, 200000};
      if (::select(master + 1, &fds, nullptr, nullptr, &tv) > 0) {
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;
        screen.append(buf, static_cast<size_t>(n));
      }
    }
    return screen.find(what) != std::string::npos;
  };
  EXPECT_TRUE(read_until("Choose a run [1-2]")) << screen;
  EXPECT_NE(screen.find("1) embedding-0.6B"), std::string::npos) << screen;
  write_all("2\n");
  EXPECT_TRUE(read_until("text> ")) << screen;
  write_all("好\n");
  EXPECT_TRUE(read_until("error: ")) << screen;  // fake runs have no model files
  write_all("q\n");
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << screen;
}

}  // namespace
}  // namespace qsenti
