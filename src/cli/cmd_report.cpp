// qsenti report: one self-contained HTML page (inline SVG, no scripts) about
// one or more runs: training curves, settings and, with --data, every chart
// that needs predictions. The page is built in src/report.
#include <filesystem>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_source.h"
#include "device/device.h"
#include "io/dataset.h"
#include "methods/batch_scoring.h"
#include "methods/classifier.h"
#include "report/report.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/runtime.h"

namespace qsenti::cli {

void add_report_command(CLI::App& app) {
  struct Opts {
    std::vector<std::string> runs;
    std::string data, out, format = "auto", dtype = "auto";
    PredictOptions hf;  // --base, --label-words, --device
    bool skip_bad_rows = false, quiet = false;
    int64_t batch_size = 16, max_length = 0;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "report", "Write an HTML report of runs: training curves, confusion matrix, ROC/PR, calibration, mistakes");
  cmd->add_option("--run", o->runs, "run folder (repeat it to compare runs side by side)")->required();
  cmd->add_option("--data", o->data,
                  "labelled data to score every run on (TSV, CSV or JSON lines); without it the report shows what "
                  "the run folders hold (history, the manifest's metrics)");
  cmd->add_option("--out", o->out, "the HTML file to write")->required();
  cmd->add_option("--format", o->format, "data format: auto (from the extension), tsv, csv, jsonl")->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress line");
  cmd->add_option("--batch-size", o->batch_size, "texts per forward pass")->check(positive())->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "tokens per text at most (0 = as the run was trained)")->check(non_negative())->capture_default_str();
  add_dtype_option(cmd, o->dtype, "auto (as trained), fp32 or bf16");
  add_device_option(cmd, o->hf.device);
  cmd->add_flag("--skip-bad-rows", o->skip_bad_rows,
                "leave out malformed rows and rows whose label is not one of a run's labels (reported) instead of stopping");
  add_hf_run_options(cmd, o->hf);
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(non_negative())->capture_default_str();
  cmd->footer("Run names on the page are the folders' names. The page needs no network: open it anywhere.");
  cmd->callback([o] {
    resolve_device(o->hf.device);
    if (o->threads > 0) init_runtime(o->threads);
    for (const auto& dir : o->runs)
      if (!std::filesystem::is_directory(dir)) throw InputError("--run " + dir + ": no such folder");
    const std::filesystem::path out_dir = std::filesystem::path(o->out).parent_path();
    if (!out_dir.empty() && !std::filesystem::is_directory(out_dir))
      throw InputError("--out " + o->out + ": the folder " + out_dir.string() + " does not exist");
    PredictOptions po = o->hf;
    if (!po.base_model.empty()) po.base_model = resolve_model_source(po.base_model, std::cerr);
    po.batch_size = o->batch_size;
    po.max_length = o->max_length;
    po.dtype = o->dtype;

    std::vector<report::ReportRun> runs;
    for (const auto& dir : o->runs) {
      if (o->data.empty()) {
        runs.push_back(report::read_report_run(dir, RunManifest::load(dir)));
        continue;
      }
      std::unique_ptr<TextClassifier> clf = load_classifier(dir, po);
      ReadOptions ro;
      ro.format = parse_data_format(o->format);
      ro.skip_bad_rows = o->skip_bad_rows;
      ro.labels = LabelSet(clf->labels());  // each run reads the file with its own labels
      Dataset data = read_dataset(o->data, ro);
      const std::string bad = describe_bad_rows(data.source, data.bad_rows);
      if (!bad.empty()) std::cerr << "warning: " << dir << ": " << bad << "\n";
      if (data.size() == 0) throw InputError(o->data + ": no labelled rows to score");
      ProgressOptions popt;
      popt.label = std::filesystem::path(dir).filename().string();
      popt.unit = "texts";
      popt.enabled = !o->quiet;
      Progress progress(static_cast<int64_t>(data.size()), popt);
      std::vector<double> probs = predict_proba_flat(*clf, data.texts, static_cast<size_t>(o->batch_size * 16),
                                                     [&](int64_t n) { progress.advance(n); });
      progress.finish();
      report::ReportRun r = report::read_report_run(dir, clf->manifest());
      if (!data.bad_rows.empty()) r.notes.push_back(bad);
      report::set_predictions(r, {o->data, std::move(data.texts), std::move(data.labels), std::move(data.lines),
                                  std::move(probs)});
      runs.push_back(std::move(r));
    }
    // Two folders of one name (a/run, b/run) stay apart on the page.
    std::map<std::string, int> seen;
    for (auto& r : runs)
      if (++seen[r.name] > 1) r.name += " (" + std::to_string(seen[r.name]) + ")";
    write_text_atomically(o->out, report::report_html(runs));
    if (!o->quiet) std::cerr << "report of " << runs.size() << " run" << (runs.size() == 1 ? "" : "s") << " written to " << o->out << "\n";
  });
}

}  // namespace qsenti::cli
