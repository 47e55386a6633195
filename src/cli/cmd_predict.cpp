// qsenti predict: answer texts, files or an interactive session with one
// trained run or an ensemble of them. The work is in src/predict/predict_app.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_source.h"
#include "device/device.h"
#include "cli/size_prompt.h"
#include "predict/predict_app.h"
#include "predict/run_discovery.h"
#include "util/runtime.h"

namespace qsenti::cli {

void add_predict_command(CLI::App& app) {
  struct Opts {
    PredictRequest r;
    bool no_text = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  PredictRequest& r = o->r;
  auto* cmd = app.add_subcommand(
      "predict", "Predict sentiment with trained runs: texts, files (streamed, resumable) or an interactive session");
  cmd->add_option("--run", r.selection.run_dirs,
                  "run folder written by `qsenti train`, or a transformers classifier / peft adapter folder (repeat it to combine runs as an ensemble)");
  cmd->add_option("--method", r.selection.method,
                  "pick the run by method: embedding (A), lora (B) or classifier (C); the run in "
                  "<models-dir>/<method>-<size>/, or the only one of that method")
      ->check(CLI::IsMember(known_methods()));
  cmd->add_option("--model-size", r.selection.model_size, "pick the run by model size: 0.6B, 4B or 8B")
      ->check(CLI::IsMember({"0.6B", "4B", "8B"}));
  cmd->add_option("--models-dir", r.selection.models_dir, "where runs are looked for")->capture_default_str();
  cmd->add_flag("--load-all", r.load_all,
                "use every run found in --models-dir: each one's answer and their ensemble (mean of the class "
                "probabilities; the runs must share one label set). With --file the ensemble is written");
  cmd->add_option("--text", r.texts, "text to classify (repeatable); without --text or --file, texts are read "
                                     "interactively from standard input");
  cmd->add_option("--file", r.file, "file of texts to classify, - for standard input: TSV (text[<TAB>label]), "
                                    "CSV with a text column, JSON lines with \"text\", or plain lines; labels are optional "
                                    "and, when present, scored");
  cmd->add_option("--format", r.in_format, "format of --file: auto (from the extension; - is read as TSV/plain lines), "
                                           "tsv, csv, jsonl or plain")
      ->check(CLI::IsMember({"auto", "tsv", "csv", "jsonl", "json", "ndjson", "plain"}))
      ->capture_default_str();
  cmd->add_option("--out", r.out, "where --file's predictions go, - for standard output; written as OUT.partial "
                                  "while running and renamed when complete")
      ->capture_default_str();
  cmd->add_option("--out-format", r.out_format, "jsonl or csv (default: from --out's extension; jsonl for -)")
      ->check(CLI::IsMember({"jsonl", "json", "csv"}));
  add_column_options(cmd, r.text_column, r.label_column);
  cmd->add_flag("--bom,--excel", r.bom, "start CSV output with a UTF-8 byte-order mark, so that Excel reads it as UTF-8");
  cmd->add_flag("--no-text", o->no_text, "leave the text out of --file's output (line numbers identify rows)");
  cmd->add_flag("--restart", r.restart, "discard OUT.partial of an interrupted --file job instead of resuming it");
  cmd->add_flag("--resume", "resume an interrupted --file job (the default whenever OUT.partial exists; "
                            "kept for clarity in scripts)");
  cmd->add_flag("--skip-bad-rows", r.skip_bad_rows, "skip malformed input rows (listed at the end) instead of stopping");
  cmd->add_flag("--json", r.json, "answer --text and interactive texts as JSON lines instead of a table");
  cmd->add_option("--batch-size", r.predict.batch_size, "texts per forward pass (and per flush of --out)")->check(positive())
      ->capture_default_str();
  cmd->add_option("--max-length", r.predict.max_length, "tokens per text at most (0 = as the run was trained)")->check(non_negative())
      ->capture_default_str();
  add_dtype_option(cmd, r.predict.dtype, "auto (as trained), fp32 or bf16");
  add_device_option(cmd, r.predict.device);
  add_hf_run_options(cmd, r.predict);
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(non_negative())->capture_default_str();
  cmd->add_flag("--quiet", r.quiet, "no progress or notes on standard error");
  cmd->add_option("--stop-after-batches", r.stop_after_batches,
                  "stop a --file job as Ctrl-C would after N batches (to try resuming)")
      ->group("");  // hidden: for tests
  cmd->footer(
      "Examples:\n"
      "  qsenti predict --method embedding --model-size 0.6B --text \"今天天气真好\"\n"
      "  qsenti predict --run models/classifier-0.6B --file posts.tsv --out predictions.jsonl\n"
      "  cat posts.txt | qsenti predict --run RUN --file - --format plain --out - --out-format csv\n"
      "  qsenti predict --load-all --text \"太失望了\"      (every run and their ensemble)\n"
      "  qsenti predict                                   (interactive: choose a run, then type texts;\n"
      "                                                    commands q, models, switch, compare)\n"
      "Interrupted --file jobs (Ctrl-C, a crash) keep their finished rows in OUT.partial; the same\n"
      "command resumes them without predicting those rows again.\n"
      "Exit codes: 0 success; 1 failure (I/O, a model that cannot run); 2 bad command line or\n"
      "ambiguous choice of run; 3 bad input (data file, run folder, label sets that differ);\n"
      "130 interrupted (the finished rows are kept).");
  cmd->callback([o] {
    resolve_device(o->r.predict.device);  // a GPU asked for where there is none fails before anything loads
    if (o->threads > 0) init_runtime(o->threads);
    PredictRequest req = o->r;
    if (!req.predict.base_model.empty()) req.predict.base_model = resolve_model_source(req.predict.base_model, std::cerr);
    req.include_text = !o->no_text;
    PredictStreams s;
    s.stdin_is_terminal = stdin_is_terminal();
    run_predict(req, s);
  });
}

}  // namespace qsenti::cli
