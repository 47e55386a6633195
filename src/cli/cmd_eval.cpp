// qsenti eval: scores a trained run (any method) on a labelled file.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_source.h"
#include "device/device.h"
#include "io/dataset.h"
#include "methods/batch_scoring.h"
#include "methods/classifier.h"
#include "report/report.h"
#include "train/metrics.h"
#include "train/train_options.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/runtime.h"

namespace qsenti::cli {

namespace {

// The run's --text-column/--label-column, when `data` is in the format its
// training file was (a file in the same shape); else the defaults.
Columns columns_of_training(const std::string& run, const std::string& data, DataFormat format) {
  if (!std::filesystem::exists(std::filesystem::path(run) / "train_options.json")) return {};
  const TrainOptions saved = saved_train_options(run);
  if (saved.text_column.empty() && saved.label_column.empty()) return {};
  try {
    const DataFormat trained = saved.data_format == "auto" ? data_format_for_path(saved.train_path)
                                                            : parse_data_format(saved.data_format);
    if (format == DataFormat::kAuto) format = data_format_for_path(data);
    if (format != trained) return {};
  } catch (const Error&) {
    return {};
  }
  return {saved.text_column, saved.label_column};
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Opts {
    std::string run, data, format = "auto", dtype = "auto", report, text_column, label_column;
    PredictOptions hf;  // --base, --label-words
    bool json = false, skip_bad_rows = false, quiet = false;
    int64_t batch_size = 16, max_length = 0;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a trained run on a labelled file: accuracy, F1, per-class scores, confusion matrix");
  cmd->add_option("--run", o->run, "run folder written by `qsenti train` (holds manifest.json), or a transformers classifier / peft adapter folder")->required();
  cmd->add_option("--data", o->data, "labelled data: TSV (text<TAB>label), CSV (label,review) or JSON lines")->required();
  cmd->add_option("--format", o->format, "data format: auto (from the extension), tsv, csv, jsonl")->capture_default_str();
  add_column_options(cmd, o->text_column, o->label_column);
  cmd->add_flag("--json", o->json, "print the metrics as one JSON object instead of the table");
  cmd->add_option("--report", o->report, "also write an HTML report of these predictions (charts, mistakes; as `qsenti report`)");
  cmd->add_flag("--quiet", o->quiet, "no progress line");
  cmd->add_option("--batch-size", o->batch_size, "texts per forward pass")->check(positive())->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "tokens per text at most (0 = as the run was trained)")->check(non_negative())->capture_default_str();
  add_dtype_option(cmd, o->dtype, "auto (as trained), fp32 or bf16");
  add_device_option(cmd, o->hf.device);
  cmd->add_flag("--skip-bad-rows", o->skip_bad_rows,
                "leave out malformed rows and rows whose label is not one of the run's labels (reported) instead of stopping");
  add_hf_run_options(cmd, o->hf);
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(non_negative())->capture_default_str();
  cmd->footer(
      "Labels in the data are read with the run's label set (for the binary set also 0/1, neg/pos,\n"
      "负面/正面); any other label is a bad row. ROC AUC is reported for two classes.");
  cmd->callback([o] {
    resolve_device(o->hf.device);  // a GPU asked for where there is none fails before anything loads
    if (o->threads > 0) init_runtime(o->threads);
    if (o->batch_size < 1) throw Error("--batch-size must be at least 1", ExitCode::kUsage);
    PredictOptions po = o->hf;
    if (!po.base_model.empty()) po.base_model = resolve_model_source(po.base_model, std::cerr);
    po.batch_size = o->batch_size;
    po.max_length = o->max_length;
    po.dtype = o->dtype;
    std::unique_ptr<TextClassifier> clf = load_classifier(o->run, po);
    ReadOptions ro;
    ro.format = parse_data_format(o->format);
    ro.skip_bad_rows = o->skip_bad_rows;
    ro.labels = LabelSet(clf->labels());
    ro.columns = {o->text_column, o->label_column};
    if (ro.columns.empty()) ro.columns = columns_of_training(o->run, o->data, ro.format);
    Dataset data = read_dataset(o->data, ro);
    const std::string bad = describe_bad_rows(data.source, data.bad_rows);
    if (!bad.empty()) std::cerr << "warning: " << bad << "\n";

    // In chunks, so that a long file shows progress (rate, ETA) and its
    // probabilities arrive as they are computed.
    ProgressOptions popt;
    popt.label = "eval";
    popt.unit = "texts";
    popt.enabled = !o->quiet;
    Progress progress(static_cast<int64_t>(data.size()), popt);
    std::vector<double> flat = predict_proba_flat(*clf, data.texts, static_cast<size_t>(o->batch_size * 16),
                                                  [&](int64_t n) { progress.advance(n); });  // 16 forwards a step
    progress.finish();
    const std::string truncated = describe_truncation(*clf, static_cast<int64_t>(data.size()));
    if (!truncated.empty() && !o->quiet) std::cerr << truncated << "\n";
    Metrics m = compute_metrics_flat(data.labels, flat, clf->labels());
    if (!o->report.empty()) {
      report::ReportRun r = report::read_report_run(o->run, clf->manifest());
      report::set_predictions(r, {o->data, data.texts, data.labels, data.lines, std::move(flat)});
      write_text_atomically(o->report, report::report_html({r}));
      if (!o->quiet) std::cerr << "report written to " << o->report << "\n";
    }
    if (o->json) {
      nlohmann::json j = to_json(m);
      j["run"] = o->run;
      j["method"] = clf->manifest().method;
      j["data"] = o->data;
      j["bad_rows"] = data.bad_rows.size();
      j["truncated"] = std::max<int64_t>(0, clf->truncated_texts());
      std::cout << j.dump() << "\n";
    } else {
      std::cout << "run " << o->run << " (method " << clf->manifest().method << ") on " << o->data << ": " << m.n
                << " examples" << (data.bad_rows.empty() ? "" : ", " + std::to_string(data.bad_rows.size()) + " bad rows skipped")
                << "\n\n"
                << format_report(m);
    }
  });
}

}  // namespace qsenti::cli
