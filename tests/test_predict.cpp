// qsenti predict: output rows, every input and output format, streaming
// through stdin/stdout, resuming interrupted jobs, ensembles and --load-all.
// In-process tests use a fake classifier (fake_classifier.h); the binary
// tests at the end train a tiny method-A run once and drive the real CLI.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fake_classifier.h"
#include "predict/ensemble.h"
#include "predict/predict_app.h"
#include "predict/prediction_io.h"
#include "predict/prediction_table.h"
#include "test_util.h"
#include "util/error.h"

namespace qsenti {
namespace {

using test::FakeClassifier;
using test::make_fake_run;
using test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> read_jsonl(const std::string& text) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::unique_ptr<FakeClassifier> fake(double bias = 0, std::vector<std::string> labels = {"negative", "positive"}) {
  RunManifest m;
  m.method = "embedding";
  m.labels = std::move(labels);
  m.extra = {{"bias", bias}};
  return std::make_unique<FakeClassifier>(m);
}

PredictFileOptions quiet_options(const std::string& in, const std::string& out) {
  PredictFileOptions o;
  o.input = in;
  o.output = out;
  o.progress = false;
  static std::ostringstream sink;
  o.log = &sink;
  return o;
}

TEST(PredictRows, JsonLineCarriesLineTextLabelAndEveryProbability) {
  auto c = fake();
  auto preds = predictions_from(c->predict_proba({"天气好", "太差了"}));
  ASSERT_EQ(preds.size(), 2u);
  EXPECT_EQ(preds[0].label, 1);
  EXPECT_EQ(preds[1].label, 0);
  preds[0].line = 7;
  preds[0].text = "天气好";
  PredictionWriter w(OutputFormat::kJsonl, {"negative", "positive"}, true, false);
  auto j = nlohmann::json::parse(w.format(preds[0]));
  EXPECT_EQ(j["line"], 7);
  EXPECT_EQ(j["text"], "天气好");
  EXPECT_EQ(j["label"], 1);
  EXPECT_EQ(j["label_name"], "positive");
  const double pos = test::fake_positive_probability("天气好", 0);
  EXPECT_NEAR(j["probability"].get<double>(), pos, 1e-6);
  EXPECT_NEAR(j["probabilities"]["positive"].get<double>(), pos, 1e-6);
  EXPECT_NEAR(j["probabilities"]["negative"].get<double>(), 1 - pos, 1e-6);
  EXPECT_FALSE(j.contains("true_label"));
}

TEST(PredictRows, CsvQuotesTextsAndNamesColumns) {
  PredictionWriter w(OutputFormat::kCsv, {"negative", "positive"}, true, true);
  EXPECT_EQ(w.header(), "line,text,label,label_name,probability,p_negative,p_positive,true_label,true_label_name\n");
  Prediction p;
  p.line = 3;
  p.text = "a \"quoted\", text\nover two lines";
  p.label = 0;
  p.probabilities = {0.75f, 0.25f};
  p.true_label = "1";
  p.true_index = 1;
  EXPECT_EQ(w.format(p), "3,\"a \"\"quoted\"\", text\nover two lines\",0,negative,0.75,0.75,0.25,1,positive\n");
  // A label naming no class: no id, the raw text.
  p.true_label = "maybe";
  p.true_index.reset();
  EXPECT_EQ(w.format(p).substr(w.format(p).size() - 8), ",,maybe\n");
  PredictionWriter json(OutputFormat::kJsonl, {"negative", "positive"}, false, true);
  p.true_label = "pos";
  p.true_index = 1;
  EXPECT_EQ(json.to_json(p)["true_label"], 1);  // compares with "label"
  EXPECT_EQ(json.to_json(p)["true_label_name"], "positive");
  PredictionWriter no_text(OutputFormat::kCsv, {"negative", "positive"}, false, false);
  p.true_label.reset();
  EXPECT_EQ(no_text.format(p), "3,0,negative,0.75,0.75,0.25\n");
}

TEST(PredictRows, OutputFormatFromTheExtension) {
  EXPECT_EQ(output_format_for_path("x.csv"), OutputFormat::kCsv);
  EXPECT_EQ(output_format_for_path("x.JSONL"), OutputFormat::kJsonl);
  EXPECT_EQ(output_format_for_path("-"), OutputFormat::kJsonl);
  EXPECT_THROW(output_format_for_path("x.xlsx"), Error);
  EXPECT_EQ(parse_output_format("csv"), OutputFormat::kCsv);
  EXPECT_THROW(parse_output_format("xml"), Error);
}

// Every input format gives the same rows: texts in order with their lines.
TEST(PredictFile, ReadsTsvCsvJsonlAndPlainText) {
  TempDir dir;
  test::write_file(dir / "in.tsv", "今天真好\t1\n\n太失望了\t0\n好开心\n");
  test::write_file(dir / "in.csv", "id,text,label\n1,今天真好,1\n2,\"太失望了\",0\n3,好开心,\n");
  test::write_file(dir / "in.jsonl",
                   "{\"text\":\"今天真好\",\"label\":1}\n{\"text\":\"太失望了\",\"label\":\"0\"}\n{\"text\":\"好开心\"}\n");
  test::write_file(dir / "in.txt", "今天真好\n太失望了\n好开心\n");
  struct Case {
    std::string file;
    DataFormat format;
    std::vector<int64_t> lines;
    bool labelled;
  };
  for (const auto& cs : {Case{"in.tsv", DataFormat::kAuto, {1, 3, 4}, true}, Case{"in.csv", DataFormat::kAuto, {2, 3, 4}, true},
                         Case{"in.jsonl", DataFormat::kAuto, {1, 2, 3}, true},
                         Case{"in.txt", DataFormat::kPlain, {1, 2, 3}, false}}) {
    SCOPED_TRACE(cs.file);
    auto c = fake();
    auto o = quiet_options(dir / cs.file, dir / (cs.file + ".out.jsonl"));
    o.input_format = cs.format;
    o.batch_size = 2;
    PredictFileResult r = predict_file(*c, o);
    EXPECT_EQ(r.rows_written, 3);
    EXPECT_FALSE(r.interrupted);
    auto rows = read_jsonl(slurp(o.output));
    ASSERT_EQ(rows.size(), 3u);
    const std::vector<std::string> texts{"今天真好", "太失望了", "好开心"};
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(rows[i]["line"], cs.lines[i]);
      EXPECT_EQ(rows[i]["text"], texts[i]);
      EXPECT_EQ(rows[i]["label"], texts[i].find("好") != std::string::npos ? 1 : 0);
    }
    EXPECT_EQ(rows[0].contains("true_label"), cs.labelled);
    EXPECT_FALSE(rows[2].contains("true_label"));
    if (cs.labelled) {
      EXPECT_EQ(rows[0]["true_label"], 1);
      EXPECT_EQ(rows[0]["true_label_name"], "positive");
      EXPECT_EQ(r.labelled, 2);
      EXPECT_EQ(r.correct, 2);
    }
    EXPECT_FALSE(std::filesystem::exists(partial_path_for(o.output)));
    EXPECT_FALSE(std::filesystem::exists(partial_meta_path_for(o.output)));
  }
}

TEST(PredictFile, WritesCsvAndStreamsThroughGivenStreams) {
  auto c = fake();
  std::istringstream in("好的\n坏的\t0\n");
  std::ostringstream out;
  auto o = quiet_options("-", "-");
  o.stdin_stream = &in;
  o.stdout_stream = &out;
  o.output_format = OutputFormat::kCsv;
  o.include_text = false;
  predict_file(*c, o);
  std::istringstream lines(out.str());
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  // Standard input is read as TSV, which can carry labels: the column is there, empty.
  EXPECT_EQ(header, "line,label,label_name,probability,p_negative,p_positive,true_label,true_label_name");
  EXPECT_EQ(row1.substr(0, 13), "1,1,positive,");
  EXPECT_EQ(row1.substr(row1.size() - 2), ",,");  // no label: both true-label columns empty
  EXPECT_EQ(row2.substr(0, 13), "2,0,negative,");
  EXPECT_EQ(row2.substr(row2.size() - 11), ",0,negative");
}

TEST(PredictFile, BadRowsStopOrAreSkipped) {
  TempDir dir;
  test::write_file(dir / "in.jsonl", "{\"text\":\"好\"}\n{\"txt\":\"no text\"}\n{\"text\":\"坏\"}\n");
  auto c = fake();
  auto o = quiet_options(dir / "in.jsonl", dir / "out.jsonl");
  try {
    predict_file(*c, o);
    FAIL() << "a bad row must stop the job";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("in.jsonl:2"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  o.skip_bad_rows = true;
  o.restart = true;
  PredictFileResult r = predict_file(*c, o);
  EXPECT_EQ(r.rows_written, 2);
  ASSERT_EQ(r.bad_rows.size(), 1u);
  EXPECT_EQ(r.bad_rows[0].line, 2);
}

// An interrupted job leaves OUT.partial; running it again predicts only the
// rest, and the final file is the same as an uninterrupted run's.
TEST(PredictFile, ResumesAnInterruptedJobWithoutRedoingRows) {
  for (OutputFormat format : {OutputFormat::kJsonl, OutputFormat::kCsv}) {
    SCOPED_TRACE(output_format_name(format));
    TempDir dir;
    std::string input;
    for (int i = 1; i <= 11; ++i) input += (i % 3 ? "好评" : "差评,\"引号\"") + std::to_string(i) + "\t" + std::to_string(i % 3 ? 1 : 0) + "\n";
    test::write_file(dir / "in.tsv", input);
    const std::string ext = format == OutputFormat::kCsv ? ".csv" : ".jsonl";

    auto reference = fake();
    auto full = quiet_options(dir / "in.tsv", dir / ("full" + ext));
    full.batch_size = 3;
    const PredictFileResult whole = predict_file(*reference, full);
    const std::string expected = slurp(full.output);

    auto first = fake();
    auto o = quiet_options(dir / "in.tsv", dir / ("out" + ext));
    o.batch_size = 3;
    o.stop_after_batches = 2;
    PredictFileResult r1 = predict_file(*first, o);
    EXPECT_TRUE(r1.interrupted);
    EXPECT_EQ(r1.rows_written, 6);
    EXPECT_FALSE(std::filesystem::exists(o.output)) << "an unfinished job must not look finished";
    const std::string partial = partial_path_for(o.output);
    ASSERT_TRUE(std::filesystem::exists(partial));
    // A crash in the middle of a write: the last row is cut short.
    {
      std::ofstream cut(partial, std::ios::app | std::ios::binary);
      cut << (format == OutputFormat::kCsv ? "7,\"好评7 cut" : "{\"line\":7,\"text\":\"好");
    }

    auto second = fake();
    o.stop_after_batches = 0;
    PredictFileResult r2 = predict_file(*second, o);
    EXPECT_FALSE(r2.interrupted);
    EXPECT_EQ(r2.rows_resumed, 6);
    EXPECT_EQ(r2.rows_written, 5);
    // The accuracy it reports covers every row, the resumed ones too.
    EXPECT_EQ(whole.labelled, 11);
    EXPECT_EQ(r2.labelled, whole.labelled);
    EXPECT_EQ(r2.correct, whole.correct);
    ASSERT_EQ(second->seen->size(), 5u) << "rows 1-6 must not be predicted again";
    EXPECT_EQ((*second->seen)[0], "好评7");
    EXPECT_EQ(slurp(o.output), expected);
    EXPECT_FALSE(std::filesystem::exists(partial));
  }
}

TEST(PredictFile, RefusesToResumeAnotherJobAndRestartsOnRequest) {
  TempDir dir;
  test::write_file(dir / "a.tsv", "好\n坏\n好\n坏\n");
  test::write_file(dir / "b.tsv", "坏\n坏\n");
  auto c = fake();
  auto o = quiet_options(dir / "a.tsv", dir / "out.jsonl");
  o.batch_size = 1;
  o.stop_after_batches = 2;
  EXPECT_TRUE(predict_file(*c, o).interrupted);
  auto other = quiet_options(dir / "b.tsv", dir / "out.jsonl");
  EXPECT_THROW(predict_file(*c, other), InputError);
  other.restart = true;
  auto fresh = fake();
  PredictFileResult r = predict_file(*fresh, other);
  EXPECT_EQ(r.rows_resumed, 0);
  EXPECT_EQ(r.rows_written, 2);
  EXPECT_EQ(read_jsonl(slurp(dir / "out.jsonl")).size(), 2u);
}

TEST(Ensemble, AveragesProbabilitiesAndRefusesDifferentLabels) {
  std::vector<std::unique_ptr<TextClassifier>> members;
  members.push_back(fake(1.0));
  members.push_back(fake(-3.0));
  members.push_back(fake(0.5));
  EnsembleClassifier e(std::move(members), {"a", "b", "c"});
  torch::Tensor p = e.predict_proba({"好", "坏"});
  ASSERT_EQ(p.sizes(), (torch::IntArrayRef{2, 2}));
  for (int i = 0; i < 2; ++i) {
    const std::string t = i == 0 ? "好" : "坏";
    const double mean = (test::fake_positive_probability(t, 1.0) + test::fake_positive_probability(t, -3.0) +
                         test::fake_positive_probability(t, 0.5)) / 3;
    EXPECT_NEAR(p[i][1].item<double>(), mean, 1e-6);
    EXPECT_NEAR(p[i][0].item<double>(), 1 - mean, 1e-6);
  }
  const auto answers = e.member_probabilities({"好", "坏"});
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_NEAR(answers[1][0][1].item<double>(), test::fake_positive_probability("好", -3.0), 1e-6);
  EXPECT_TRUE(torch::allclose(mean_probabilities(answers), p));

  std::vector<std::unique_ptr<TextClassifier>> mixed;
  mixed.push_back(fake(0));
  mixed.push_back(fake(0, {"neg", "neu", "pos"}));
  try {
    EnsembleClassifier bad(std::move(mixed), {"two-class", "three-class"});
    FAIL();
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("three-class has [neg,neu,pos]"), std::string::npos) << err.what();
  }
}

// run_predict end to end in-process: --text, --json, --load-all, --file.
struct PredictAppTest : ::testing::Test {
  TempDir dir;
  std::ostringstream out, err;
  std::istringstream in;
  PredictStreams streams() {
    PredictStreams s;
    s.in = &in;
    s.out = &out;
    s.err = &err;
    s.load = test::fake_loader();
    return s;
  }
  PredictRequest request() {
    PredictRequest r;
    r.selection.models_dir = dir / "models";
    r.quiet = true;
    return r;
  }
};

TEST_F(PredictAppTest, MethodAndSizeFindTheConventionalRun) {
  make_fake_run(dir / "models/embedding-0.6B", "embedding", "0.6B", 0);
  make_fake_run(dir / "models/classifier-0.6B", "classifier", "0.6B", 5);
  PredictRequest r = request();
  r.selection.method = "embedding";
  r.selection.model_size = "0.6B";
  r.texts = {"今天天气真好"};
  r.json = true;
  run_predict(r, streams());
  auto rows = read_jsonl(out.str());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["run"], "embedding-0.6B");
  EXPECT_EQ(rows[0]["text"], "今天天气真好");
  EXPECT_NEAR(rows[0]["probabilities"]["positive"].get<double>(), test::fake_positive_probability("好", 0), 1e-6);
  // Several runs and none chosen: a usage error naming them.
  r.selection.method = r.selection.model_size = "";
  try {
    run_predict(r, streams());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("--load-all"), std::string::npos);
  }
}

TEST_F(PredictAppTest, TableShowsLabelNamesAndProbabilities) {
  make_fake_run(dir / "models/embedding-0.6B", "embedding", "0.6B", 0);
  PredictRequest r = request();
  r.texts = {"今天天气真好", "太糟糕"};
  run_predict(r, streams());
  const std::string s = out.str();
  EXPECT_NE(s.find("run: embedding-0.6B"), std::string::npos) << s;
  EXPECT_NE(s.find("positive 正面"), std::string::npos) << s;
  EXPECT_NE(s.find("negative 负面"), std::string::npos) << s;
  EXPECT_NE(s.find(format_probability(test::fake_positive_probability("好", 0))), std::string::npos) << s;
}

TEST_F(PredictAppTest, LoadAllPrintsEachRunAndTheMeanEnsemble) {
  make_fake_run(dir / "models/embedding-0.6B", "embedding", "0.6B", 1.0);
  make_fake_run(dir / "models/lora-0.6B", "lora", "0.6B", -1.5);
  make_fake_run(dir / "models/classifier-0.6B", "classifier", "0.6B", 0.25);
  PredictRequest r = request();
  r.load_all = true;
  r.json = true;
  r.texts = {"好", "坏"};
  run_predict(r, streams());
  auto rows = read_jsonl(out.str());
  ASSERT_EQ(rows.size(), 2u);
  for (size_t t = 0; t < 2; ++t) {
    const std::string text = t == 0 ? "好" : "坏";
    ASSERT_EQ(rows[t]["runs"].size(), 3u);
    EXPECT_EQ(rows[t]["runs"][0]["run"], "embedding-0.6B");
    EXPECT_EQ(rows[t]["runs"][1]["run"], "lora-0.6B");
    EXPECT_EQ(rows[t]["runs"][2]["run"], "classifier-0.6B");
    double sum = 0;
    for (double b : {1.0, -1.5, 0.25}) sum += test::fake_positive_probability(text, b);
    EXPECT_NEAR(rows[t]["runs"][1]["probabilities"]["positive"].get<double>(),
                test::fake_positive_probability(text, -1.5), 1e-6);
    EXPECT_NEAR(rows[t]["ensemble"]["probabilities"]["positive"].get<double>(), sum / 3, 2e-6);
  }
  // The table: one row per run and the ensemble.
  out.str("");
  r.json = false;
  run_predict(r, streams());
  EXPECT_NE(out.str().find("ensemble (mean)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("lora-0.6B"), std::string::npos);

  // A run with other labels: refused before anything is loaded.
  make_fake_run(dir / "models/zz-three", "classifier", "", 0, {"neg", "neu", "pos"});
  auto loaded = std::make_shared<std::vector<std::string>>();
  PredictStreams s = streams();
  s.load = test::fake_loader(nullptr, loaded);
  try {
    run_predict(r, s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("different label sets"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(loaded->empty());
}

TEST_F(PredictAppTest, FileJobWithLoadAllWritesTheEnsemble) {
  make_fake_run(dir / "models/embedding-0.6B", "embedding", "0.6B", 1.0);
  make_fake_run(dir / "models/classifier-0.6B", "classifier", "0.6B", -1.0);
  test::write_file(dir / "in.txt", "好\n坏\n");
  PredictRequest r = request();
  r.load_all = true;
  r.file = dir / "in.txt";
  r.in_format = "plain";
  r.out = dir / "out.jsonl";
  run_predict(r, streams());
  auto rows = read_jsonl(slurp(r.out));
  ASSERT_EQ(rows.size(), 2u);
  const double mean = (test::fake_positive_probability("好", 1.0) + test::fake_positive_probability("好", -1.0)) / 2;
  EXPECT_NEAR(rows[0]["probabilities"]["positive"].get<double>(), mean, 2e-6);
  // Interrupted: exit code 130 and the rows so far kept.
  r.out = dir / "cut.jsonl";
  r.predict.batch_size = 1;
  r.stop_after_batches = 1;
  try {
    run_predict(r, streams());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInterrupted);
  }
  EXPECT_EQ(read_jsonl(slurp(partial_path_for(r.out))).size(), 1u);
}

TEST_F(PredictAppTest, AnOutputThatCannotBeWrittenIsRefusedBeforeAnyModelLoads) {
  make_fake_run(dir / "models/embedding-0.6B", "embedding", "0.6B", 0);
  test::write_file(dir / "in.txt", "好\n");
  std::filesystem::create_directories(dir / "outdir");
  for (const std::string& out : {dir / "outdir", dir / "o.txt"}) {
    PredictRequest r = request();
    r.file = dir / "in.txt";
    r.out = out;
    auto s = streams();
    auto loads = std::make_shared<int>(0);
    auto inner = s.load;
    s.load = [loads, inner](const std::string& d) {
      ++*loads;
      return inner(d);
    };
    try {
      run_predict(r, s);
      ADD_FAILURE() << out;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsage) << out << ": " << e.what();
    }
    EXPECT_EQ(*loads, 0) << out;
  }
}

TEST_F(PredictAppTest, UsageErrors) {
  make_fake_run(dir / "models/embedding-0.6B", "embedding", "0.6B", 0);
  PredictRequest r = request();
  r.texts = {"x"};
  r.file = "in.tsv";
  EXPECT_THROW(run_predict(r, streams()), Error);
  r.file = "";
  r.out = "o.jsonl";
  try {
    run_predict(r, streams());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
}

TEST(PredictTable, CountsChineseCharactersAsTwoCells) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("今天"), 4u);
  EXPECT_EQ(truncate_to_width("今天天气真好", 7), "今天天…");
  const std::string t = format_table({"run", "p"}, {{"今天", "1"}, {"abcdef", "2"}});
  EXPECT_EQ(t, "run     p\n今天    1\nabcdef  2\n");
}

}  // namespace
}  // namespace qsenti

// ---- the binary, on a real (tiny, random) method-A run ----------------------

namespace qsenti {
namespace {

// Runs a shell command line in `dir`; `$Q` in it is the qsenti binary.
test::CommandResult shell_in(const std::string& dir, const std::string& line, bool merge_stderr = false) {
  std::string cmd = "cd '" + dir + "' && Q='" + std::string(qsenti::test::binary()) + "' && " + line;
  if (merge_stderr) cmd = "{ " + cmd + " ; } 2>&1";
  return test::run_shell(cmd);
}

// Trains one method-A run on the tiny reference model once for the suite, in
// the conventional layout: models/Qwen3-Embedding-0.6B is the tiny model, so
// the original's short commands (--method embedding --model-size 0.6B) work.
class PredictBinary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = new TempDir;
    namespace fs = std::filesystem;
    fs::create_directories(*home_ / "models");
    fs::create_directory_symlink(test::fixture("refs/tiny-qwen3"), *home_ / "models/Qwen3-Embedding-0.6B");
    std::string data;
    std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
    std::string line;
    for (int i = 0; std::getline(in, line) && i < 400; ++i)
      if (i % 5 == 0) data += line + "\n";  // 80 rows over both classes
    test::write_file(*home_ / "train.tsv", data);
    // No --model, no --out, not a terminal: the conventional folders.
    train_ = new test::CommandResult(shell_in(
        home_->path(),
        "$Q train --method embedding --model-size 0.6B --train train.tsv"
        " --epochs 3 --max-length 32 --no-cache --threads 1 --quiet --dtype fp32 < /dev/null",
        true));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete home_;
  }
  void SetUp() override { ASSERT_EQ(train_->exit_code, 0) << train_->output; }
  static std::string run_dir() { return *home_ / "models/embedding-0.6B"; }
  static test::CommandResult qsenti(const std::string& args, bool merge = false) {
    return shell_in(home_->path(), "$Q " + args, merge);
  }

  static TempDir* home_;
  static test::CommandResult* train_;
};
TempDir* PredictBinary::home_ = nullptr;
test::CommandResult* PredictBinary::train_ = nullptr;

TEST_F(PredictBinary, ShortCommandsFindTheConventionalRunAndMatchTheLibrary) {
  auto r = qsenti("predict --method embedding --model-size 0.6B --json --text 今天天气真好 --text 太失望了 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = read_jsonl(r.output);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[0]["run"], "embedding-0.6B");
  // The same numbers as the library's classifier gives in-process.
  auto c = load_classifier(run_dir());
  torch::Tensor p = c->predict_proba({"今天天气真好", "太失望了"});
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(rows[i]["probabilities"]["negative"].get<double>(), p[i][0].item<double>(), 2e-6);
    EXPECT_NEAR(rows[i]["probabilities"]["positive"].get<double>(), p[i][1].item<double>(), 2e-6);
    EXPECT_EQ(rows[i]["label"], p[i].argmax().item<int64_t>());
  }
  // With only one run in models/, no choice is needed at all.
  auto table = qsenti("predict --text 今天天气真好 2>/dev/null");
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("run: embedding-0.6B"), std::string::npos) << table.output;
}

TEST_F(PredictBinary, PipesThroughStdinAndStdout) {
  auto csv = shell_in(home_->path(), "printf '今天天气真好\\n太失望了\\n还行吧\\n' | $Q predict --run " + run_dir() +
                                          " --file - --format plain --out - --out-format csv --quiet");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  auto piped = shell_in(home_->path(), "printf '今天天气真好\\n太失望了\\n还行吧\\n' | $Q predict --run " + run_dir() +
                                           " --file - --out - --quiet");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  auto rows = read_jsonl(piped.output);
  ASSERT_EQ(rows.size(), 3u) << piped.output;
  EXPECT_EQ(rows[1]["line"], 2);
  EXPECT_EQ(rows[1]["text"], "太失望了");
  // CSV: a header and three rows with the same labels as the JSON lines.
  std::istringstream lines(csv.output);
  std::string header, row;
  std::getline(lines, header);
  EXPECT_EQ(header, "line,text,label,label_name,probability,p_negative,p_positive");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(std::getline(lines, row));
    const std::string label = rows[i]["label"].get<int64_t>() == 1 ? ",1,positive," : ",0,negative,";
    EXPECT_NE(row.find(label), std::string::npos) << row;
  }
}

TEST_F(PredictBinary, InterruptedFileJobResumesWithTheSameCommand) {
  const std::string out = *home_ / "resume/out.jsonl";
  const std::string cmd = "predict --run " + run_dir() + " --file " + *home_ / "train.tsv" + " --out " + out +
                          " --batch-size 8 --quiet";
  auto first = qsenti(cmd + " --stop-after-batches 3", true);
  EXPECT_EQ(first.exit_code, 130) << first.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(read_jsonl(slurp(partial_path_for(out))).size(), 24u);
  auto second = qsenti(cmd, true);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  auto rows = read_jsonl(slurp(out));
  ASSERT_EQ(rows.size(), 80u);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i]["line"], static_cast<int64_t>(i + 1));
  // The same file as a job that was never interrupted.
  auto whole = qsenti("predict --run " + run_dir() + " --file " + *home_ / "train.tsv" + " --out " + *home_ / "whole.jsonl" +
                      " --batch-size 8 --quiet");
  ASSERT_EQ(whole.exit_code, 0);
  EXPECT_EQ(slurp(out), slurp(*home_ / "whole.jsonl"));
}

TEST_F(PredictBinary, LoadAllShowsEveryRunAndTheEnsemble) {
  std::filesystem::copy(run_dir(), *home_ / "models/embedding-copy", std::filesystem::copy_options::recursive);
  auto r = qsenti("predict --load-all --json --text 今天天气真好 2>/dev/null");
  std::filesystem::remove_all(*home_ / "models/embedding-copy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = read_jsonl(r.output);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0]["runs"].size(), 2u);
  // Two copies of one run: the mean is that run's answer.
  EXPECT_NEAR(rows[0]["ensemble"]["probability"].get<double>(), rows[0]["runs"][0]["probability"].get<double>(), 2e-6);
}

TEST_F(PredictBinary, InteractiveLoopFromAPipe) {
  test::write_file(*home_ / "session.txt", "今天天气真好\ncompare\n太失望了\nq\n");
  auto r = qsenti("predict < " + *home_ / "session.txt" + " 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("今天天气真好"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ensemble (mean)"), std::string::npos) << r.output;
}

TEST_F(PredictBinary, CsvForExcelResumesAndALogGetsOneProgressLine) {
  const std::string out = *home_ / "excel/out.csv", log = *home_ / "excel/predict.log";
  const std::string cmd = "predict --run " + run_dir() + " --file " + *home_ / "train.tsv" + " --out " + out +
                          " --bom --batch-size 8";
  auto first = qsenti(cmd + " --stop-after-batches 2 --quiet", true);
  EXPECT_EQ(first.exit_code, 130) << first.output;
  auto r = qsenti(cmd + " 2> " + log);  // stderr a file: not a terminal
  ASSERT_EQ(r.exit_code, 0) << slurp(log);
  const std::string csv = slurp(out);
  EXPECT_EQ(csv.rfind("\xEF\xBB\xBFline,text,label,label_name,probability,p_negative,p_positive,true_label", 0), 0u)
      << csv.substr(0, 100);
  EXPECT_EQ(csv.find("\xEF\xBB\xBF", 3), std::string::npos);  // once, at the start, after the resume
  std::istringstream rows(csv);
  int n = 0;
  for (std::string line; std::getline(rows, line);) ++n;
  EXPECT_EQ(n, 81);
  // Method A's embedder draws no line of its own inside predict's, and a log
  // gets no progress line before 10 s: the summary alone.
  const std::string text = slurp(log);
  EXPECT_EQ(text.find("embedding:"), std::string::npos) << text;
  int progress_lines = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) progress_lines += line.rfind("predict: ", 0) == 0;
  EXPECT_EQ(progress_lines, 1) << text;
  // Weibo posts run past the run's 32 tokens.
  EXPECT_NE(text.find(" texts were longer than 32 tokens and were truncated (--max-length)"), std::string::npos)
      << text;
  // --excel is the same flag, and JSON lines have no use for it.
  auto jsonl = qsenti("predict --run " + run_dir() + " --file " + *home_ / "train.tsv" + " --out " +
                          *home_ / "excel/out.jsonl" + " --excel --quiet",
                      true);
  EXPECT_EQ(jsonl.exit_code, 2) << jsonl.output;
  EXPECT_NE(jsonl.output.find("--bom is for CSV output"), std::string::npos) << jsonl.output;
}

TEST_F(PredictBinary, TrainingCountsTruncatedTextsPerSplit) {
  const auto m = test::read_json(run_dir() + "/manifest.json");
  ASSERT_TRUE(m["metrics"].contains("truncated")) << m.dump();
  const auto& t = m["metrics"]["truncated"];
  EXPECT_EQ(t["max_length"], 32);
  EXPECT_GT(t["train"].get<int64_t>(), 0);
  EXPECT_GE(t["valid"].get<int64_t>(), 0);
  EXPECT_EQ(t["test"], 0);
  // The eval note says the same for its file.
  auto eval = qsenti("eval --run " + run_dir() + " --data train.tsv", true);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("of 80 texts were longer than 32 tokens and were truncated"), std::string::npos)
      << eval.output;
}

TEST_F(PredictBinary, ExitCodesScriptsCanRelyOn) {
  EXPECT_EQ(qsenti("predict --run " + run_dir() + " --out x.jsonl --text hi", true).exit_code, 2);
  EXPECT_EQ(qsenti("predict --bogus-option", true).exit_code, 2);
  EXPECT_EQ(qsenti("predict --run " + *home_ / "nothing" + " --text hi", true).exit_code, 3);
  test::write_file(*home_ / "bad.jsonl", "{\"text\": \"ok\"}\n{broken\n");
  auto bad = qsenti("predict --run " + run_dir() + " --file " + *home_ / "bad.jsonl" + " --out " + *home_ / "bad-out.jsonl", true);
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.output.find("bad.jsonl:2"), std::string::npos) << bad.output;
  auto help = qsenti("predict --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("Exit codes"), std::string::npos);
}

}  // namespace
}  // namespace qsenti
