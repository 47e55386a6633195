#pragma once
// The HTML report of one or more runs (`qsenti report`, `qsenti eval --report`):
// one self-contained page with inline SVG charts (report/svg.h), no scripts.
//
// Per run: training curves from history.jsonl, the settings in manifest.json
// and, from predictions on a labelled file, the confusion matrix, per-class
// scores, ROC and precision-recall curves, a reliability diagram and the most
// confident mistakes. Without predictions, the manifest's own metrics (test,
// else valid) give the confusion matrix and the per-class table. Several runs
// also get a side-by-side table and overlaid curves, one colour per run.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "methods/run_manifest.h"
#include "train/metrics.h"

namespace qsenti::report {

struct RunPredictions {
  std::string data;                 // the file scored
  std::vector<std::string> texts;
  std::vector<int64_t> labels;      // true class indices
  std::vector<int64_t> lines;       // the file's line of each row (may be empty)
  std::vector<double> probs;        // row-major [texts.size(), classes]
};

struct ReportRun {
  std::string name;  // the run folder's name
  std::string dir;
  RunManifest manifest;
  std::vector<nlohmann::json> history;  // history.jsonl's records, in order
  std::vector<std::string> notes;       // what was left out and why, shown on the page
  std::optional<RunPredictions> predictions;
  std::optional<Metrics> metrics;       // of the predictions, else of the manifest
  std::string metrics_source;           // where `metrics` come from, in words
};

// A run's manifest and history. A missing history.jsonl or a line of it that
// does not parse becomes a note naming the file (and line); the manifest's
// test (else valid) metrics are used until predictions are set.
ReportRun read_report_run(const std::string& dir, const RunManifest& manifest);

// Sets the run's predictions and computes their metrics (train/metrics.h).
void set_predictions(ReportRun& run, RunPredictions predictions);

// Curves of a binary score: ROC (x false positive rate, y true positive rate,
// area = ROC AUC with ties counted 1/2) and precision-recall (x recall,
// y precision, area = average precision as scikit-learn's). Empty when a
// class is missing.
struct Curve {
  std::vector<double> x, y;
  double area = 0;
};
Curve roc_curve(const std::vector<double>& scores, const std::vector<bool>& positive);
Curve pr_curve(const std::vector<double>& scores, const std::vector<bool>& positive);

// Reliability of the top class's probability in `bins` equal bins of [0, 1].
struct Calibration {
  std::vector<double> confidence, accuracy;  // per non-empty bin: mean confidence, share correct
  std::vector<int64_t> count;
  double ece = 0;  // expected calibration error: sum of count/n * |accuracy - confidence|
};
Calibration calibration(const RunPredictions& p, size_t classes, int bins = 10);

// The whole page.
std::string report_html(const std::vector<ReportRun>& runs);

}  // namespace qsenti::report
