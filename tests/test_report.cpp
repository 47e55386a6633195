// qsenti report and eval --report: the HTML page's numbers are eval's, its
// texts are escaped, its tags balance, and it is written atomically.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "methods/method.h"
#include "model/loading.h"
#include "report/report.h"
#include "report/svg.h"
#include "train/metrics.h"
#include "train/train_options.h"
#include "test_util.h"

namespace qsenti {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Every element closed in order (void elements and <x/> aside): "" when the
// page balances, else where it does not.
std::string unbalanced_tag(const std::string& html) {
  std::vector<std::string> stack;
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    const size_t end = html.find('>', at);
    if (end == std::string::npos) return "an unclosed '<' at " + std::to_string(at);
    const std::string tag = html.substr(at + 1, end - at - 1);
    if (tag.empty() || tag[0] == '!') continue;
    const bool closing = tag[0] == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \n/"));
    if (name == "meta" || name == "br") continue;
    if (closing) {
      if (stack.empty() || stack.back() != name) return "</" + name + "> at " + std::to_string(at) + " closes " +
                                                        (stack.empty() ? "nothing" : "<" + stack.back() + ">");
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(name);
    }
  }
  return stack.empty() ? "" : "<" + stack.back() + "> never closed";
}

// The page's sections of each run, in order.
std::vector<std::string> run_sections(const std::string& html) {
  std::vector<std::string> out;
  const std::string mark = "<section class=\"run\"";
  for (size_t at = html.find(mark); at != std::string::npos;) {
    const size_t next = html.find(mark, at + 1);
    out.push_back(html.substr(at, next == std::string::npos ? std::string::npos : next - at));
    at = next;
  }
  return out;
}

// The heat map's cells: [true][predicted] counts.
std::vector<std::vector<int64_t>> heat_map_cells(const std::string& section, size_t k) {
  std::vector<std::vector<int64_t>> m(k, std::vector<int64_t>(k, -1));
  static const std::regex cell(R"re(class="cell" data-true="(\d+)" data-pred="(\d+)" data-count="(\d+)")re");
  for (std::sregex_iterator it(section.begin(), section.end(), cell), end; it != end; ++it) {
    const size_t t = std::stoul((*it)[1]), p = std::stoul((*it)[2]);
    if (t < k && p < k) m[t][p] = std::stoll((*it)[3]);
  }
  return m;
}

void expect_matches_eval(const std::string& section, const nlohmann::json& eval) {
  const size_t k = eval.at("classes").size();
  EXPECT_EQ(count_of(section, "class=\"cell\""), k * k);
  EXPECT_EQ(nlohmann::json(heat_map_cells(section, k)), eval.at("confusion_matrix"));
  static const std::regex row(
      R"re(data-class="(\d+)" data-name="[^"]*" data-precision="([^"]+)" data-recall="([^"]+)" data-f1="([^"]+)" data-support="(\d+)")re");
  size_t rows = 0;
  for (std::sregex_iterator it(section.begin(), section.end(), row), end; it != end; ++it, ++rows) {
    const auto& c = eval.at("classes").at(std::stoul((*it)[1]));
    EXPECT_NEAR(std::stod((*it)[2]), c.at("precision").get<double>(), 1e-12);
    EXPECT_NEAR(std::stod((*it)[3]), c.at("recall").get<double>(), 1e-12);
    EXPECT_NEAR(std::stod((*it)[4]), c.at("f1").get<double>(), 1e-12);
    EXPECT_EQ(std::stoll((*it)[5]), c.at("support").get<int64_t>());
  }
  EXPECT_EQ(rows, k);
}

class ReportCommand : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    write_random_model(Qwen3Config::preset("tiny"), *dir_ / "model", 11, torch::kFloat32);
    // 120 Weibo rows from both ends of the file (the tail is mostly negative).
    std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::ofstream out(*dir_ / "data.tsv");
    for (size_t i = 0; i < 60; ++i) out << lines[i] << "\n" << lines[lines.size() - 1 - i] << "\n";
    out.close();
    // Ten classes: texts that name their class.
    std::ofstream ten(*dir_ / "ten.tsv");
    for (int i = 0; i < 120; ++i) ten << "第" << i % 10 << "类 样本" << i << "\t" << i % 10 << "\n";
    ten.close();
    const int threads = torch::get_num_threads();
    torch::set_num_threads(1);  // the machine's other jobs make OpenMP barriers crawl
    train("data.tsv", "a", 2, 42);
    train("data.tsv", "b<x>", 1, 7);
    train("ten.tsv", "ten", 1, 42);
    torch::set_num_threads(threads);
  }
  static void train(const std::string& data, const std::string& out, int64_t epochs, uint64_t seed) {
    TrainOptions o;
    o.method = "embedding";
    o.model = *dir_ / "model";
    o.train_path = *dir_ / data;
    o.out = *dir_ / out;
    o.epochs = epochs;
    o.seed = seed;
    o.no_cache = true;
    o.quiet = true;
    train_embedding_method(o);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& rel) { return *dir_ / rel; }
  static std::string quoted(const std::string& rel) { return "'" + path(rel) + "'"; }
  static nlohmann::json eval_json(const std::string& run, const std::string& data) {
    auto r = test::run_qsenti("eval --threads 1 --quiet --json --run " + quoted(run) + " --data " + path(data));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(r.output);
  }
  static test::TempDir* dir_;
};
test::TempDir* ReportCommand::dir_ = nullptr;

TEST_F(ReportCommand, TwoRunsWithDataShowEvalsNumbers) {
  test::TempDir out;
  auto r = test::run_qsenti("report --threads 1 --quiet --run " + quoted("a") + " --run " + quoted("b<x>") +
                                " --data " + path("data.tsv") + " --out " + (out / "report.html"),
                            true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_text(out / "report.html");
  EXPECT_EQ(unbalanced_tag(html), "");
  // Per run: loss, lr, validation, heat map, ROC, PR, reliability; the
  // comparison: two validation metrics, loss and ROC.
  EXPECT_EQ(count_of(html, "<svg"), 2 * 7 + 4u);
  EXPECT_EQ(count_of(html, "<svg"), count_of(html, "</svg>"));
  EXPECT_NE(html.find("class=\"compare\""), std::string::npos);
  // The folder name is text from the user: escaped.
  EXPECT_NE(html.find("b&lt;x&gt;"), std::string::npos);
  EXPECT_EQ(html.find("b<x>"), std::string::npos);
  const auto sections = run_sections(html);
  ASSERT_EQ(sections.size(), 2u);
  expect_matches_eval(sections[0], eval_json("a", "data.tsv"));
  expect_matches_eval(sections[1], eval_json("b<x>", "data.tsv"));
  // The settings and the training curves come from the run folder.
  EXPECT_NE(sections[0].find("<th>epochs</th><td>2</td>"), std::string::npos);
  EXPECT_NE(sections[0].find("training loss"), std::string::npos);
  EXPECT_NE(sections[0].find("data-name=\"macro F1\""), std::string::npos);
  // Written atomically: nothing but the page is left.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(out.path()), std::filesystem::directory_iterator()), 1);
}

TEST_F(ReportCommand, TenClassesGiveATenByTenHeatMap) {
  test::TempDir out;
  auto r = test::run_qsenti("report --threads 1 --quiet --run " + path("ten") + " --data " + path("ten.tsv") +
                                " --out " + (out / "ten.html"),
                            true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_text(out / "ten.html");
  EXPECT_EQ(unbalanced_tag(html), "");
  const auto sections = run_sections(html);
  ASSERT_EQ(sections.size(), 1u);
  const auto eval = eval_json("ten", "ten.tsv");
  ASSERT_EQ(eval.at("classes").size(), 10u);
  expect_matches_eval(sections[0], eval);
  // One-vs-rest: a ROC and a PR curve for each of the 10 classes.
  const std::regex roc(R"re(class="series" data-name="[^"]*, AUC )re"), pr(R"re(class="series" data-name="[^"]*, AP )re");
  using It = std::sregex_iterator;
  EXPECT_EQ(std::distance(It(sections[0].begin(), sections[0].end(), roc), It()), 10);
  EXPECT_EQ(std::distance(It(sections[0].begin(), sections[0].end(), pr), It()), 10);
}

TEST_F(ReportCommand, EvalReportEscapesTheTextsOfMistakes) {
  // The same hostile text under both labels: one of the two is a mistake, and
  // with four rows in all it is among the ten shown.
  const std::string hostile = "<script>alert(\"x\")</script> & 'quote' <img src=x onerror=alert(1)>";
  test::write_file(path("hostile.tsv"), hostile + "\t1\n" + hostile + "\t0\n今天很好\t1\n太差了\t0\n");
  test::TempDir out;
  auto r = test::run_qsenti("eval --threads 1 --quiet --json --run " + path("a") + " --data " + path("hostile.tsv") +
                                " --report " + (out / "eval.html"),
                            true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto eval = nlohmann::json::parse(r.output);  // --quiet: stdout's JSON alone, even with --report
  const std::string html = read_text(out / "eval.html");
  EXPECT_EQ(unbalanced_tag(html), "");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"text\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quote&#39; "
                      "&lt;img src=x onerror=alert(1)&gt;</td>"),
            std::string::npos);
  const auto sections = run_sections(html);
  ASSERT_EQ(sections.size(), 1u);
  expect_matches_eval(sections[0], eval);
  EXPECT_NE(sections[0].find("Most confident mistakes"), std::string::npos);
}

TEST_F(ReportCommand, WithoutDataTheRunFolderIsShownAndBadHistoryLinesAreNoted) {
  // A copy of run a whose history has a torn last line.
  const std::string copy = path("torn");
  std::filesystem::copy(path("a"), copy, std::filesystem::copy_options::recursive);
  const size_t good = count_of(read_text(copy + "/history.jsonl"), "\n");
  {
    std::ofstream h(copy + "/history.jsonl", std::ios::app);
    h << "{\"type\":\"train\",\"st";
  }
  test::TempDir out;
  auto r = test::run_qsenti("report --run " + copy + " --out " + (out / "r.html"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_text(out / "r.html");
  EXPECT_EQ(unbalanced_tag(html), "");
  EXPECT_NE(html.find(report::html_escape(copy + "/history.jsonl:" + std::to_string(good + 1))), std::string::npos);
  EXPECT_NE(html.find("need predictions"), std::string::npos);
  EXPECT_NE(html.find("--data"), std::string::npos);
  // The manifest's validation metrics still give the heat map and the table.
  EXPECT_EQ(count_of(html, "class=\"cell\""), 4u);
  EXPECT_NE(html.find("class=\"per-class\""), std::string::npos);
  EXPECT_NE(html.find("recorded in manifest.json"), std::string::npos);
}

TEST_F(ReportCommand, BadInputNamesTheFile) {
  test::TempDir out;
  auto missing = test::run_qsenti("report --run " + path("nowhere") + " --out " + (out / "r.html"), true);
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  EXPECT_NE(missing.output.find(path("nowhere")), std::string::npos) << missing.output;
  std::filesystem::create_directories(path("empty"));
  auto no_manifest = test::run_qsenti("report --run " + path("empty") + " --out " + (out / "r.html"), true);
  EXPECT_EQ(no_manifest.exit_code, 3) << no_manifest.output;
  EXPECT_NE(no_manifest.output.find("manifest.json"), std::string::npos) << no_manifest.output;
  auto no_folder = test::run_qsenti("report --run " + path("a") + " --out " + (out / "no/such/r.html"), true);
  EXPECT_EQ(no_folder.exit_code, 3) << no_folder.output;
  auto usage = test::run_qsenti("report --run " + path("a"), true);
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_TRUE(std::filesystem::is_empty(out.path()));
}

// The curves' areas are the metrics' ROC AUC (ties 1/2) and scikit-learn's
// average precision.
TEST(ReportCurves, AreasMatchTheMetrics) {
  const std::vector<double> s{0.9, 0.8, 0.8, 0.6, 0.55, 0.4, 0.3, 0.3, 0.2, 0.1};
  const std::vector<bool> pos{true, true, false, true, false, true, false, false, true, false};
  const report::Curve roc = report::roc_curve(s, pos);
  EXPECT_NEAR(roc.area, *roc_auc(s, pos), 1e-12);
  EXPECT_DOUBLE_EQ(roc.x.back(), 1.0);
  EXPECT_DOUBLE_EQ(roc.y.back(), 1.0);
  // sklearn.metrics.average_precision_score of the same: thresholds 0.9, 0.8
  // (2 rows, 1 positive), 0.6, 0.55, 0.4, 0.3 (2 rows, none), 0.2, 0.1.
  const double ap = 0.2 * 1 + 0.2 * (2.0 / 3) + 0.2 * (3.0 / 4) + 0.2 * (4.0 / 6) + 0.2 * (5.0 / 9);
  EXPECT_NEAR(report::pr_curve(s, pos).area, ap, 1e-12);
  EXPECT_TRUE(report::roc_curve(s, std::vector<bool>(s.size(), true)).x.empty());
}

TEST(ReportCurves, CalibrationBinsTheTopProbability) {
  report::RunPredictions p;
  p.labels = {0, 1, 1, 0};
  p.probs = {0.95, 0.05, 0.1, 0.9, 0.65, 0.35, 0.62, 0.38};  // right, right, wrong, right
  const report::Calibration c = report::calibration(p, 2);
  ASSERT_EQ(c.count, (std::vector<int64_t>{2, 2}));  // bins [0.6, 0.7) and [0.9, 1]
  EXPECT_NEAR(c.accuracy[0], 0.5, 1e-12);
  EXPECT_NEAR(c.confidence[1], 0.925, 1e-12);
  EXPECT_NEAR(c.ece, 0.5 * std::abs(0.5 - 0.635) + 0.5 * std::abs(1 - 0.925), 1e-12);
}

TEST(ReportSvg, EscapesAndDrawsEmptyCharts) {
  EXPECT_EQ(report::html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  report::LineChart c;
  c.title = "<t>";
  c.series.push_back({"s<1>", {}, {}, "#000"});
  const std::string svg = report::line_chart_svg(c);
  EXPECT_NE(svg.find("no data"), std::string::npos);
  EXPECT_EQ(svg.find("<t>"), std::string::npos);
  EXPECT_EQ(unbalanced_tag(svg), "");
  const auto ticks = report::nice_ticks(0, 1);
  EXPECT_EQ(ticks.front(), 0.0);
  EXPECT_NEAR(ticks.back(), 1.0, 1e-12);
  EXPECT_EQ(ticks.size(), 6u);
}

}  // namespace
}  // namespace qsenti
