#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "report/svg.h"
#include "util/error.h"

namespace qsenti::report {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMistakes = 10;

std::string fixed4(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// Every digit, for data-* attributes that tests and scripts read back.
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Metrics metrics_from_json(const nlohmann::json& j) {
  Metrics m;
  m.n = j.at("n").get<int64_t>();
  m.accuracy = j.at("accuracy").get<double>();
  m.macro_f1 = j.at("macro_f1").get<double>();
  m.weighted_f1 = j.value("weighted_f1", 0.0);
  m.balanced_accuracy = j.value("balanced_accuracy", 0.0);
  m.log_loss = j.value("log_loss", 0.0);
  if (j.contains("roc_auc")) m.roc_auc = j.at("roc_auc").get<double>();
  for (const auto& c : j.at("classes")) {
    ClassMetrics cm;
    cm.name = c.at("name").get<std::string>();
    cm.precision = c.at("precision").get<double>();
    cm.recall = c.at("recall").get<double>();
    cm.f1 = c.at("f1").get<double>();
    cm.support = c.at("support").get<int64_t>();
    cm.predicted = c.value("predicted", int64_t{0});
    m.per_class.push_back(cm);
  }
  m.confusion = j.at("confusion_matrix").get<std::vector<std::vector<int64_t>>>();
  return m;
}

// The class with the highest probability, the lowest index on a tie (as train/metrics).
size_t argmax_row(const double* row, size_t k) {
  size_t best = 0;
  for (size_t c = 1; c < k; ++c)
    if (row[c] > row[best]) best = c;
  return best;
}

size_t class_count(const ReportRun& r) { return r.manifest.labels.size(); }

// At most about 1/step points, so a curve of many thousand rows stays small.
Curve thinned(Curve c, double step = 0.002) {
  if (c.x.size() < 600) return c;
  Curve t;
  t.area = c.area;
  for (size_t i = 0; i < c.x.size(); ++i) {
    const bool last = i + 1 == c.x.size();
    if (t.x.empty() || last || std::abs(c.x[i] - t.x.back()) >= step || std::abs(c.y[i] - t.y.back()) >= step) {
      t.x.push_back(c.x[i]);
      t.y.push_back(c.y[i]);
    }
  }
  return t;
}

// Scores and flags of one class against the rest.
void one_vs_rest(const RunPredictions& p, size_t k, size_t cls, std::vector<double>& scores, std::vector<bool>& pos) {
  const size_t n = p.labels.size();
  scores.resize(n);
  pos.resize(n);
  for (size_t i = 0; i < n; ++i) {
    scores[i] = p.probs[i * k + cls];
    pos[i] = static_cast<size_t>(p.labels[i]) == cls;
  }
}

// The classes with their own curves: class 1 of two, else every class.
std::vector<size_t> curve_classes(size_t k) {
  if (k == 2) return {1};
  std::vector<size_t> c(k);
  std::iota(c.begin(), c.end(), 0);
  return c;
}

// One ROC of a run for the overlay: the positive class of two, else the
// micro average (every row x class pair as one binary decision).
Curve overlay_roc(const ReportRun& r) {
  const auto& p = *r.predictions;
  const size_t k = class_count(r);
  std::vector<double> scores;
  std::vector<bool> pos;
  if (k == 2) {
    one_vs_rest(p, k, 1, scores, pos);
  } else {
    for (size_t i = 0; i < p.labels.size(); ++i)
      for (size_t c = 0; c < k; ++c) {
        scores.push_back(p.probs[i * k + c]);
        pos.push_back(static_cast<size_t>(p.labels[i]) == c);
      }
  }
  return thinned(roc_curve(scores, pos));
}

// ROC AUC for the table: the metrics' own for two classes, else the mean of
// the one-vs-rest areas of the classes that have positives and negatives.
std::optional<double> table_auc(const ReportRun& r) {
  if (r.metrics && r.metrics->roc_auc) return r.metrics->roc_auc;
  if (!r.predictions || class_count(r) < 3) return std::nullopt;
  double sum = 0;
  int used = 0;
  std::vector<double> s;
  std::vector<bool> pos;
  for (size_t c = 0; c < class_count(r); ++c) {
    one_vs_rest(*r.predictions, class_count(r), c, s, pos);
    if (auto a = roc_auc(s, pos)) {
      sum += *a;
      ++used;
    }
  }
  if (used == 0) return std::nullopt;
  return sum / used;
}

std::string validation_value_series_name(const std::string& key) {
  if (key == "accuracy") return "accuracy";
  if (key == "macro_f1") return "macro F1";
  if (key == "balanced_accuracy") return "balanced accuracy";
  if (key == "roc_auc") return "ROC AUC";
  return key;
}

// Step and value of history records of `type` ("train" or "valid").
Series history_series(const ReportRun& r, const std::string& type, const std::string& key) {
  Series s;
  for (const auto& rec : r.history) {
    // Hand-edited records of other shapes are passed over, not fatal.
    if (!rec.contains("type") || rec["type"] != type || !rec.contains("step")) continue;
    const nlohmann::json* v = nullptr;
    if (type == "valid" && rec.contains("metrics") && rec["metrics"].is_object() && rec["metrics"].contains(key))
      v = &rec["metrics"][key];
    else if (type != "valid" && rec.contains(key))
      v = &rec[key];
    if (!v || !v->is_number() || !rec["step"].is_number()) continue;
    s.x.push_back(rec["step"].get<double>());
    s.y.push_back(v->get<double>());
  }
  return s;
}

std::string section_note(const std::string& text) { return "<p class=\"note\">" + html_escape(text) + "</p>\n"; }

std::string settings_table(const ReportRun& r) {
  const RunManifest& m = r.manifest;
  std::ostringstream o;
  o << "<table class=\"settings\"><tbody>\n";
  auto row = [&](const std::string& k, const std::string& v) {
    o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
  };
  row("folder", r.dir);
  row("method", m.method);
  row("base model", m.base_model);
  if (!m.model_size.empty()) row("model size", m.model_size);
  std::string labels;
  for (const auto& l : m.labels) labels += (labels.empty() ? "" : ", ") + l;
  row("labels", labels);
  if (!m.created.empty()) row("created", m.created);
  row("qsenti version", m.qsenti_version);
  if (m.hyperparameters.is_object())
    for (const auto& [k, v] : m.hyperparameters.items()) row(k, v.is_string() ? v.get<std::string>() : v.dump());
  o << "</tbody></table>\n";
  return o.str();
}

std::string per_class_table(const Metrics& m) {
  std::ostringstream o;
  o << "<table class=\"per-class\"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
       "<th>support</th><th>predicted</th></tr></thead><tbody>\n";
  for (size_t i = 0; i < m.per_class.size(); ++i) {
    const auto& c = m.per_class[i];
    o << "<tr data-class=\"" << i << "\" data-name=\"" << html_escape(c.name) << "\" data-precision=\""
      << exact(c.precision) << "\" data-recall=\"" << exact(c.recall) << "\" data-f1=\"" << exact(c.f1)
      << "\" data-support=\"" << c.support << "\"><td>" << html_escape(c.name) << "</td><td>" << fixed4(c.precision)
      << "</td><td>" << fixed4(c.recall) << "</td><td>" << fixed4(c.f1) << "</td><td>" << c.support << "</td><td>"
      << c.predicted << "</td></tr>\n";
  }
  o << "</tbody></table>\n";
  return o.str();
}

std::string summary_list(const ReportRun& r) {
  const Metrics& m = *r.metrics;
  std::ostringstream o;
  o << "<p class=\"summary\">" << m.n << " examples: accuracy <b>" << fixed4(m.accuracy) << "</b>, macro F1 <b>"
    << fixed4(m.macro_f1) << "</b>, weighted F1 " << fixed4(m.weighted_f1) << ", balanced accuracy "
    << fixed4(m.balanced_accuracy) << ", log loss " << fixed4(m.log_loss);
  if (auto a = table_auc(r)) o << ", ROC AUC " << fixed4(*a) << (m.roc_auc ? "" : " (one-vs-rest mean)");
  o << "</p>\n";
  return o.str();
}

std::string mistakes_table(const ReportRun& r) {
  const auto& p = *r.predictions;
  const size_t k = class_count(r);
  std::vector<std::pair<double, size_t>> wrong;
  for (size_t i = 0; i < p.labels.size(); ++i) {
    const size_t pred = argmax_row(&p.probs[i * k], k);
    if (pred != static_cast<size_t>(p.labels[i])) wrong.emplace_back(p.probs[i * k + pred], i);
  }
  if (wrong.empty()) return section_note("No mistakes on " + p.data + ".");
  std::stable_sort(wrong.begin(), wrong.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (wrong.size() > kMistakes) wrong.resize(kMistakes);
  std::ostringstream o;
  o << "<table class=\"mistakes\"><thead><tr><th>line</th><th>true</th><th>predicted</th><th>probability</th>"
       "<th>text</th></tr></thead><tbody>\n";
  for (const auto& [conf, i] : wrong) {
    const size_t pred = argmax_row(&p.probs[i * k], k);
    o << "<tr><td>" << (i < p.lines.size() ? std::to_string(p.lines[i]) : std::to_string(i + 1)) << "</td><td>"
      << html_escape(r.manifest.labels[static_cast<size_t>(p.labels[i])]) << "</td><td>"
      << html_escape(r.manifest.labels[pred]) << "</td><td>" << fixed4(conf) << "</td><td class=\"text\">"
      << html_escape(p.texts[i]) << "</td></tr>\n";
  }
  o << "</tbody></table>\n";
  return o.str();
}

std::string training_charts(const ReportRun& r) {
  std::ostringstream o;
  const std::string colour = palette_colour(0);
  Series loss = history_series(r, "train", "loss");
  Series lr = history_series(r, "train", "lr");
  if (loss.x.empty() && lr.x.empty()) {
    o << section_note("No training steps in history.jsonl.");
  } else {
    LineChart c;
    c.title = "training loss";
    c.x_label = "step";
    c.y_label = "loss";
    loss.colour = colour;
    c.series.push_back(loss);
    o << line_chart_svg(c);
    LineChart l;
    l.title = "learning rate";
    l.x_label = "step";
    l.y_label = "lr";
    l.y_min = 0;
    lr.colour = palette_colour(1);
    l.series.push_back(lr);
    o << line_chart_svg(l);
  }
  LineChart v;
  v.title = "validation";
  v.x_label = "step";
  v.y_label = "score";
  size_t i = 0;
  for (const char* key : {"accuracy", "macro_f1", "balanced_accuracy", "roc_auc"}) {
    Series s = history_series(r, "valid", key);
    if (s.x.empty()) continue;
    s.name = validation_value_series_name(key);
    s.colour = palette_colour(i++);
    s.markers = true;
    v.series.push_back(s);
  }
  if (v.series.empty()) {
    o << section_note("No validation records in history.jsonl.");
  } else {
    o << line_chart_svg(v);
  }
  return o.str();
}

std::string prediction_charts(const ReportRun& r) {
  const auto& p = *r.predictions;
  const size_t k = class_count(r);
  std::ostringstream o;
  LineChart roc, pr;
  roc.title = k == 2 ? "ROC of " + r.manifest.labels[1] : "ROC, one class vs the rest";
  roc.x_label = "false positive rate";
  roc.y_label = "true positive rate";
  pr.title = k == 2 ? "precision-recall of " + r.manifest.labels[1] : "precision-recall, one class vs the rest";
  pr.x_label = "recall";
  pr.y_label = "precision";
  for (auto* c : {&roc, &pr}) {
    c->x_min = 0;
    c->x_max = 1;
    c->y_min = 0;
    c->y_max = 1;
  }
  roc.diagonal = true;
  std::vector<double> s;
  std::vector<bool> pos;
  size_t colour = 0;
  for (size_t cls : curve_classes(k)) {
    one_vs_rest(p, k, cls, s, pos);
    const Curve rc = thinned(roc_curve(s, pos)), pc = thinned(pr_curve(s, pos));
    const std::string& who = r.manifest.labels[cls];
    if (rc.x.empty()) continue;  // a class without positives or negatives here
    roc.series.push_back({who + ", AUC " + fixed4(rc.area), rc.x, rc.y, palette_colour(colour)});
    pr.series.push_back({who + ", AP " + fixed4(pc.area), pc.x, pc.y, palette_colour(colour)});
    ++colour;
  }
  o << line_chart_svg(roc) << line_chart_svg(pr);
  const Calibration cal = calibration(p, k);
  LineChart rel;
  rel.title = "reliability (ECE " + fixed4(cal.ece) + ")";
  rel.x_label = "predicted probability of the top class";
  rel.y_label = "share correct";
  rel.x_min = 0;
  rel.x_max = 1;
  rel.y_min = 0;
  rel.y_max = 1;
  rel.diagonal = true;
  Series cs{"10 bins", cal.confidence, cal.accuracy, palette_colour(0)};
  cs.markers = true;
  rel.series.push_back(cs);
  o << line_chart_svg(rel);
  return o.str();
}

std::string run_section(const ReportRun& r, size_t index) {
  std::ostringstream o;
  o << "<section class=\"run\" id=\"run-" << index << "\" data-run=\"" << html_escape(r.name) << "\">\n";
  o << "<h2>" << html_escape(r.name) << " <small>" << html_escape(r.manifest.method) << "</small></h2>\n";
  for (const auto& n : r.notes) o << section_note(n);
  o << "<h3>Training</h3>\n<div class=\"charts\">\n" << training_charts(r) << "</div>\n";
  o << "<h3>Evaluation</h3>\n";
  if (r.metrics) {
    o << section_note("On " + r.metrics_source + ".") << summary_list(r);
    HeatMap h;
    h.title = "confusion matrix";
    h.labels = r.manifest.labels;
    h.counts = r.metrics->confusion;
    o << "<div class=\"charts\">\n" << heat_map_svg(h) << (r.predictions ? prediction_charts(r) : "") << "</div>\n"
      << per_class_table(*r.metrics);
  } else {
    o << section_note("No metrics: the manifest holds none; give --data to evaluate the run.");
  }
  if (r.predictions) {
    o << "<h3>Most confident mistakes</h3>\n" << mistakes_table(r);
  } else {
    o << section_note("ROC, precision-recall and reliability curves and the mistakes need predictions: "
                      "run `qsenti report` with --data FILE.");
  }
  o << "<h3>Settings</h3>\n" << settings_table(r) << "</section>\n";
  return o.str();
}

std::string comparison_section(const std::vector<ReportRun>& runs) {
  std::ostringstream o;
  o << "<section class=\"comparison\">\n<h2>Comparison</h2>\n";
  o << "<table class=\"compare\"><thead><tr><th>run</th><th>method</th><th>evaluated on</th><th>n</th>"
       "<th>accuracy</th><th>macro F1</th><th>weighted F1</th><th>balanced accuracy</th><th>log loss</th>"
       "<th>ROC AUC</th><th>ECE</th></tr></thead><tbody>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    o << "<tr data-run=\"" << html_escape(r.name) << "\"><td><span class=\"swatch\" style=\"background:"
      << palette_colour(i) << "\"></span><a href=\"#run-" << i << "\">" << html_escape(r.name) << "</a></td><td>"
      << html_escape(r.manifest.method) << "</td>";
    if (!r.metrics) {
      o << "<td colspan=\"9\">no metrics</td></tr>\n";
      continue;
    }
    const Metrics& m = *r.metrics;
    const auto auc = table_auc(r);
    // The file's name alone keeps the table narrow; each run's section has the whole path.
    const std::string source = r.predictions ? fs::path(r.predictions->data).filename().string() : r.metrics_source;
    o << "<td>" << html_escape(source) << "</td><td>" << m.n << "</td><td>" << fixed4(m.accuracy)
      << "</td><td>" << fixed4(m.macro_f1) << "</td><td>" << fixed4(m.weighted_f1) << "</td><td>"
      << fixed4(m.balanced_accuracy) << "</td><td>" << fixed4(m.log_loss) << "</td><td>"
      << (auc ? fixed4(*auc) : "n/a") << "</td><td>"
      << (r.predictions ? fixed4(calibration(*r.predictions, class_count(r)).ece) : "n/a") << "</td></tr>\n";
  }
  o << "</tbody></table>\n<div class=\"charts\">\n";
  for (const char* key : {"accuracy", "macro_f1"}) {
    LineChart c;
    c.title = std::string("validation ") + validation_value_series_name(key) + " by step";
    c.x_label = "step";
    c.y_label = validation_value_series_name(key);
    for (size_t i = 0; i < runs.size(); ++i) {
      Series s = history_series(runs[i], "valid", key);
      s.name = runs[i].name;
      s.colour = palette_colour(i);
      s.markers = true;
      c.series.push_back(s);
    }
    o << line_chart_svg(c);
  }
  LineChart loss;
  loss.title = "training loss by step";
  loss.x_label = "step";
  loss.y_label = "loss";
  for (size_t i = 0; i < runs.size(); ++i) {
    Series s = history_series(runs[i], "train", "loss");
    s.name = runs[i].name;
    s.colour = palette_colour(i);
    loss.series.push_back(s);
  }
  o << line_chart_svg(loss);
  LineChart roc;
  roc.title = "ROC (positive class; micro average for more than 2 classes)";
  roc.x_label = "false positive rate";
  roc.y_label = "true positive rate";
  roc.x_min = roc.y_min = 0;
  roc.x_max = roc.y_max = 1;
  roc.diagonal = true;
  bool any = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].predictions) continue;
    const Curve c = overlay_roc(runs[i]);
    roc.series.push_back({runs[i].name + ", AUC " + fixed4(c.area), c.x, c.y, palette_colour(i)});
    any = true;
  }
  if (any) o << line_chart_svg(roc);
  o << "</div>\n";
  if (!any) o << section_note("Overlaid ROC curves need predictions: run `qsenti report` with --data FILE.");
  o << "</section>\n";
  return o.str();
}

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h2 small{color:#777;font-weight:normal}h3{font-size:15px;margin-bottom:6px}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.charts svg{border:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f3f3f3}td{overflow-wrap:anywhere}td.text{max-width:640px}
.note{color:#666;font-size:13px}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
)";

}  // namespace

ReportRun read_report_run(const std::string& dir, const RunManifest& manifest) {
  ReportRun r;
  r.dir = dir;
  r.manifest = manifest;
  fs::path p(dir);
  r.name = (p.has_filename() ? p.filename() : p.parent_path().filename()).string();
  const std::string history = (p / "history.jsonl").string();
  std::ifstream in(history);
  if (!in) {
    r.notes.push_back(history + ": not found; no training curves");
  } else {
    std::string line;
    int64_t no = 0, bad = 0;
    std::string first_bad;
    while (std::getline(in, line)) {
      ++no;
      if (line.empty()) continue;
      try {
        auto j = nlohmann::json::parse(line);
        if (!j.is_object()) throw std::runtime_error("not an object");
        r.history.push_back(std::move(j));
      } catch (const std::exception&) {
        // A line cut by a crash, or edited by hand: the rest still counts.
        if (bad++ == 0) first_bad = history + ":" + std::to_string(no);
      }
    }
    if (bad > 0)
      r.notes.push_back(first_bad + ": not a JSON record; " + std::to_string(bad) + " such line" + (bad > 1 ? "s" : "") +
                        " skipped");
  }
  for (const char* which : {"test", "valid"}) {
    if (!manifest.metrics.is_object() || !manifest.metrics.contains(which)) continue;
    try {
      Metrics m = metrics_from_json(manifest.metrics.at(which));
      if (m.per_class.size() != manifest.labels.size()) throw std::runtime_error("classes differ from labels");
      r.metrics = std::move(m);
      r.metrics_source = std::string("the ") + (std::string(which) == "test" ? "test" : "validation") +
                         " set recorded in manifest.json";
      break;
    } catch (const std::exception& e) {
      r.notes.push_back((p / RunManifest::kFileName).string() + ": metrics." + which + " unreadable (" + e.what() + ")");
    }
  }
  return r;
}

void set_predictions(ReportRun& run, RunPredictions p) {
  run.metrics = compute_metrics_flat(p.labels, p.probs, run.manifest.labels);
  run.metrics_source = p.data + " (" + std::to_string(p.labels.size()) + " rows)";
  run.predictions = std::move(p);
}

namespace {
// Sorted by score, highest first, each threshold's (fp, tp) counts: the
// common walk of ROC and PR curves.
template <typename F>
bool walk_thresholds(const std::vector<double>& scores, const std::vector<bool>& positive, F&& at) {
  const size_t n = scores.size();
  const int64_t P = std::count(positive.begin(), positive.end(), true), N = static_cast<int64_t>(n) - P;
  if (P == 0 || N == 0) return false;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < n; ++i) {
    (positive[order[i]] ? tp : fp) += 1;
    // Tied scores are one threshold.
    if (i + 1 == n || scores[order[i + 1]] != scores[order[i]]) at(tp, fp, P, N);
  }
  return true;
}
}  // namespace

Curve roc_curve(const std::vector<double>& scores, const std::vector<bool>& positive) {
  Curve c;
  c.x.push_back(0);
  c.y.push_back(0);
  const bool ok = walk_thresholds(scores, positive, [&](int64_t tp, int64_t fp, int64_t P, int64_t N) {
    const double x = static_cast<double>(fp) / N, y = static_cast<double>(tp) / P;
    c.area += (x - c.x.back()) * (y + c.y.back()) / 2;  // trapezoids: a tie counts 1/2
    c.x.push_back(x);
    c.y.push_back(y);
  });
  return ok ? c : Curve{};
}

Curve pr_curve(const std::vector<double>& scores, const std::vector<bool>& positive) {
  Curve c;
  c.x.push_back(0);
  c.y.push_back(1);
  const bool ok = walk_thresholds(scores, positive, [&](int64_t tp, int64_t fp, int64_t P, int64_t) {
    const double recall = static_cast<double>(tp) / P, precision = static_cast<double>(tp) / (tp + fp);
    c.area += (recall - c.x.back()) * precision;  // average precision, as scikit-learn's
    c.x.push_back(recall);
    c.y.push_back(precision);
  });
  return ok ? c : Curve{};
}

Calibration calibration(const RunPredictions& p, size_t k, int bins) {
  std::vector<double> conf(static_cast<size_t>(bins), 0.0), correct(static_cast<size_t>(bins), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(bins), 0);
  const size_t n = p.labels.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t pred = argmax_row(&p.probs[i * k], k);
    const double c = p.probs[i * k + pred];
    const auto b = static_cast<size_t>(std::clamp(static_cast<int>(c * bins), 0, bins - 1));
    conf[b] += c;
    correct[b] += pred == static_cast<size_t>(p.labels[i]);
    count[b] += 1;
  }
  Calibration cal;
  for (size_t b = 0; b < static_cast<size_t>(bins); ++b) {
    if (count[b] == 0) continue;
    const double cb = conf[b] / count[b], ab = correct[b] / count[b];
    cal.confidence.push_back(cb);
    cal.accuracy.push_back(ab);
    cal.count.push_back(count[b]);
    cal.ece += static_cast<double>(count[b]) / static_cast<double>(n) * std::abs(ab - cb);
  }
  return cal;
}

std::string report_html(const std::vector<ReportRun>& runs) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>qsenti report</title>\n"
    << "<style>\n" << kStyle << "</style>\n</head>\n<body>\n<h1>qsenti report</h1>\n";
  o << "<p class=\"note\">" << runs.size() << " run" << (runs.size() == 1 ? "" : "s") << "; made "
    << html_escape(utc_now_iso8601()) << " by qsenti " << QSENTI_VERSION << ".</p>\n";
  if (runs.size() > 1) o << comparison_section(runs);
  for (size_t i = 0; i < runs.size(); ++i) o << run_section(runs[i], i);
  o << "</body>\n</html>\n";
  return o.str();
}

}  // namespace qsenti::report
