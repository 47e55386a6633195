#pragma once
// Everything `qsenti predict` does, apart from parsing its command line, so
// that it runs in-process in tests with fake classifiers and streams.
//
// Modes, chosen by what is given:
//   --file IN [--out OUT]   stream a file through the run(s) (prediction_io.h)
//   --text T (repeatable)   answer the texts: a table, or JSON with --json
//   neither                 the interactive loop (interactive.h), reading
//                           standard input: prompts on a terminal, plain
//                           answers from a pipe
// Which run: --run DIR, or --method/--model-size (conventional folders,
// run_discovery.h), or the only run found under --models-dir; with
// --load-all (or several --run) every run answers and their ensemble (mean of
// the probabilities) is shown, for --file the ensemble is what is written.
#include <iosfwd>
#include <string>
#include <vector>

#include "methods/classifier.h"
#include "predict/interactive.h"
#include "predict/run_discovery.h"

namespace qsenti {

struct PredictRequest {
  RunSelection selection;
  bool load_all = false;
  std::vector<std::string> texts;
  std::string file;                 // input of a file job ("-" = stdin)
  std::string out = "-";            // output of a file job
  std::string in_format = "auto";   // auto | tsv | csv | jsonl | plain
  std::string out_format;           // "" = from --out's extension; jsonl | csv
  bool json = false;                // --text / interactive answers as JSON lines
  bool include_text = true;         // file output carries the text
  bool restart = false;
  bool skip_bad_rows = false;
  std::string text_column, label_column;  // of --file; "" = defaults
  bool bom = false;                 // CSV output with a UTF-8 byte-order mark (Excel)
  bool quiet = false;               // no progress or notes on stderr
  bool interactive = false;         // force the loop (even with prompts off)
  int64_t stop_after_batches = 0;   // file jobs: simulate an interruption
  PredictOptions predict;           // dtype, batch size, max length
};

struct PredictStreams {
  std::istream* in = nullptr;   // default std::cin
  std::ostream* out = nullptr;  // default std::cout
  std::ostream* err = nullptr;  // default std::cerr
  bool stdin_is_terminal = false;
  ClassifierLoader load;        // default load_classifier(dir, request.predict)
};

// Returns the exit code (0); throws qsenti::Error for failures, whose code()
// is the exit code (usage 2, bad input 3, interrupted 130, other 1).
int run_predict(const PredictRequest& request, PredictStreams streams);

}  // namespace qsenti
