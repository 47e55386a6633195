#include "predict/predict_app.h"

#include <cstdio>
#include <iostream>

#include "methods/hf_run.h"
#include "predict/ensemble.h"
#include "predict/prediction_io.h"
#include "predict/prediction_table.h"
#include "util/error.h"

namespace qsenti {

namespace {

// The run folders a non-interactive job uses.
std::vector<RunInfo> runs_for_job(const PredictRequest& r, std::ostream& err) {
  const RunSelection& sel = r.selection;
  std::vector<RunInfo> runs;
  if (r.load_all) {
    RunSearch search = find_runs(sel.models_dir);
    if (!r.quiet)
      for (const auto& p : search.problems) err << "skipped " << p << "\n";
    for (auto& run : search.runs)
      if ((sel.method.empty() || run.manifest.method == sel.method) &&
          (sel.model_size.empty() || run.manifest.model_size == sel.model_size))
        runs.push_back(std::move(run));
    for (const auto& d : sel.run_dirs) runs.push_back({d, open_run_manifest(d)});
    if (runs.empty())
      throw InputError("--load-all: no trained runs in " + sel.models_dir +
                       "/ (each run is a folder with manifest.json; train with `qsenti train`, or use --models-dir)");
    return runs;
  }
  if (sel.run_dirs.size() > 1) {
    for (const auto& d : sel.run_dirs) runs.push_back({d, open_run_manifest(d)});
    return runs;
  }
  if (auto dir = resolve_single_run(sel)) return {{*dir, open_run_manifest(*dir)}};
  RunSearch search = find_runs(sel.models_dir);
  if (search.runs.size() == 1) return search.runs;
  if (search.runs.empty())
    throw InputError("no trained run found in " + sel.models_dir +
                     "/; give --run RUN_DIR, or --method and --model-size, or train one with `qsenti train`");
  std::string names;
  for (const auto& run : search.runs) names += " " + run.name();
  throw Error("several runs in " + sel.models_dir + "/ (" + names.substr(1) +
                  "): choose one with --run, --method/--model-size, or use them all with --load-all",
              ExitCode::kUsage);
}

std::vector<std::string> dirs_of(const std::vector<RunInfo>& runs) {
  std::vector<std::string> d;
  for (const auto& r : runs) d.push_back(r.dir);
  return d;
}

// The ensemble of several runs.
std::unique_ptr<EnsembleClassifier> open_ensemble(const std::vector<RunInfo>& runs, const ClassifierLoader& load) {
  // Labels are checked from the manifests first, before any model is loaded.
  std::vector<std::vector<std::string>> label_sets;
  std::vector<std::string> run_names;
  for (const auto& r : runs) {
    label_sets.push_back(r.manifest.labels);
    run_names.push_back(r.name());
  }
  require_same_labels(label_sets, run_names);
  std::vector<std::unique_ptr<TextClassifier>> members;
  std::vector<std::string> names;
  for (const auto& r : runs) {
    members.push_back(load(r.dir));
    names.push_back(r.name());
  }
  return std::make_unique<EnsembleClassifier>(std::move(members), std::move(names));
}

// One classifier, or the ensemble of several.
std::unique_ptr<TextClassifier> open_runs(const std::vector<RunInfo>& runs, const ClassifierLoader& load) {
  if (runs.size() == 1) return load(runs[0].dir);
  return open_ensemble(runs, load);
}

int file_job(const PredictRequest& r, const PredictStreams& s, std::ostream& err) {
  check_output_path(r.out);  // before the models load
  if (!r.out_format.empty()) parse_output_format(r.out_format);
  else if (!r.out.empty()) output_format_for_path(r.out);  // an extension it cannot write
  std::vector<RunInfo> runs = runs_for_job(r, err);
  auto classifier = open_runs(runs, s.load);
  PredictFileOptions fo;
  fo.input = r.file;
  fo.input_format = parse_data_format(r.in_format);
  fo.output = r.out.empty() ? "-" : r.out;
  if (!r.out_format.empty()) fo.output_format = parse_output_format(r.out_format);
  fo.batch_size = r.predict.batch_size;
  fo.include_text = r.include_text;
  fo.restart = r.restart;
  fo.skip_bad_rows = r.skip_bad_rows;
  fo.columns = {r.text_column, r.label_column};
  fo.bom = r.bom;
  fo.progress = !r.quiet;
  fo.runs = dirs_of(runs);
  fo.stdin_stream = s.in;
  fo.stdout_stream = s.out;
  fo.log = &err;
  fo.stop_after_batches = r.stop_after_batches;
  if (!r.quiet) {
    err << "predicting " << (r.file == "-" ? "<stdin>" : r.file) << " with ";
    for (size_t i = 0; i < runs.size(); ++i) err << (i ? ", " : "") << runs[i].name();
    if (runs.size() > 1) err << " (ensemble: mean of probabilities)";
    err << "\n";
  }
  PredictFileResult res = predict_file(*classifier, fo);
  if (res.interrupted) throw Error("interrupted; the finished rows are kept", ExitCode::kInterrupted);
  if (!r.quiet) {
    err << "wrote " << (res.rows_written + res.rows_resumed) << " rows to " << (fo.output == "-" ? "standard output" : fo.output);
    if (res.rows_resumed) err << " (" << res.rows_resumed << " from the interrupted run)";
    if (res.labelled > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "; accuracy %.4f on the %lld labelled rows", double(res.correct) / res.labelled,
                    static_cast<long long>(res.labelled));
      err << buf;
    }
    err << "\n";
    const std::string truncated = describe_truncation(*classifier, res.rows_written);
    if (!truncated.empty()) err << truncated << "\n";
  }
  return 0;
}

int text_job(const PredictRequest& r, const PredictStreams& s, std::ostream& out, std::ostream& err) {
  std::vector<RunInfo> runs = runs_for_job(r, err);
  for (const auto& t : r.texts)
    if (t.empty()) throw Error("--text is empty", ExitCode::kUsage);
  if (runs.size() == 1) {
    auto classifier = s.load(runs[0].dir);
    auto preds = predictions_from(classifier->predict_proba(r.texts));
    for (size_t i = 0; i < preds.size(); ++i) preds[i].text = r.texts[i];
    out << render_answers(runs[0].name(), preds, classifier->labels(), r.json);
    const std::string truncated = describe_truncation(*classifier, static_cast<int64_t>(r.texts.size()));
    if (!truncated.empty() && !r.quiet) err << truncated << "\n";
    return 0;
  }
  auto ensemble = open_ensemble(runs, s.load);
  const std::vector<torch::Tensor> members = ensemble->member_probabilities(r.texts);
  auto preds = predictions_from(mean_probabilities(members));
  for (size_t t = 0; t < preds.size(); ++t) {
    preds[t].text = r.texts[t];
    std::vector<RunAnswer> answers;
    for (size_t m = 0; m < ensemble->size(); ++m) {
      Prediction p = predictions_from(members[m].slice(0, t, t + 1))[0];
      p.text = r.texts[t];
      answers.push_back({ensemble->member_names()[m], p});
    }
    if (t > 0 && !r.json) out << "\n";
    out << render_comparison(r.texts[t], answers, &preds[t], ensemble->labels(), r.json);
  }
  return 0;
}

int interactive_job(const PredictRequest& r, const PredictStreams& s, std::ostream& out, std::ostream& err) {
  InteractiveOptions io;
  RunSearch search = find_runs(r.selection.models_dir);
  if (!r.quiet && s.stdin_is_terminal)
    for (const auto& p : search.problems) err << "skipped " << p << "\n";
  io.runs = std::move(search.runs);
  for (const auto& d : r.selection.run_dirs) {
    bool known = false;
    for (const auto& run : io.runs) known = known || run.dir == d;
    if (!known) io.runs.push_back({d, open_run_manifest(d)});
  }
  if (!r.load_all) {
    if (auto dir = resolve_single_run(r.selection)) io.initial_run = *dir;
  }
  if (io.runs.empty() && io.initial_run.empty())
    throw InputError("no trained runs in " + r.selection.models_dir +
                     "/ to choose from; train one with `qsenti train`, or give --run RUN_DIR or --models-dir");
  // From a pipe there is nobody to answer the menu: the texts would be read
  // as run choices and nothing predicted.
  if (!s.stdin_is_terminal && !r.load_all && io.initial_run.empty() && io.runs.size() > 1)
    throw Error("standard input is not a terminal and " + std::to_string(io.runs.size()) + " runs are in " +
                    r.selection.models_dir + "/: choose one with --run RUN (or --method and --model-size), or "
                    "compare them all with --load-all",
                ExitCode::kUsage);
  io.load = s.load;
  io.in = s.in;
  io.out = &out;
  io.prompts = s.stdin_is_terminal;
  io.json = r.json;
  io.compare_all = r.load_all;
  InteractiveSession session(std::move(io));
  session.run();
  return 0;
}

}  // namespace

int run_predict(const PredictRequest& r, PredictStreams s) {
  if (!s.in) s.in = &std::cin;
  if (!s.out) s.out = &std::cout;
  if (!s.err) s.err = &std::cerr;
  if (!s.load) {
    PredictOptions po = r.predict;
    s.load = [po](const std::string& dir) { return load_classifier(dir, po); };
  }
  if (!r.file.empty() && !r.texts.empty()) throw Error("give --text or --file, not both", ExitCode::kUsage);
  if (r.file.empty() && r.out != "-" && !r.out.empty())
    throw Error("--out needs --file (the texts to predict)", ExitCode::kUsage);
  if (r.predict.batch_size < 1) throw Error("--batch-size must be at least 1", ExitCode::kUsage);
  if (!r.file.empty()) return file_job(r, s, *s.err);
  if (!r.texts.empty()) return text_job(r, s, *s.out, *s.err);
  return interactive_job(r, s, *s.out, *s.err);
}

}  // namespace qsenti
