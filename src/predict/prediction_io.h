#pragma once
// Predictions as data: one row per input text, written as JSON lines or CSV,
// and whole files predicted in streamed batches that survive interruption.
//
// Every output row carries the input line number, the text (unless left
// out), the predicted class id and name, its probability and the
// probability of every class; rows read with a label also carry it in the
// same terms ("true_label" the class id, "true_label_name" its name; a label
// naming no class of the run: id null/empty and the raw text as the name; in
// CSV the columns exist whenever the input can carry labels, empty for rows
// without one). JSON lines:
//   {"line":3,"text":"…","label":1,"label_name":"positive","probability":0.93,
//    "probabilities":{"negative":0.07,"positive":0.93},"true_label":1,"true_label_name":"positive"}
// CSV: line,text,label,label_name,probability,p_<class>...[,true_label,true_label_name]
//
// Resuming: a file job writes OUT.partial (rows flushed after every batch,
// in input order) and OUT.partial.json (what the job is: input, runs,
// format). When the job finishes OUT.partial is renamed to OUT; an OUT
// therefore is always complete. Run the same command again after an
// interruption and the rows already in OUT.partial are not predicted again.
#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "methods/classifier.h"

namespace qsenti {

enum class OutputFormat { kJsonl, kCsv };

// "jsonl" (also "json", "ndjson") or "csv"; throws Error(kUsage) otherwise.
OutputFormat parse_output_format(const std::string& name);
const char* output_format_name(OutputFormat format);
// .csv -> csv; .jsonl/.json/.ndjson and "-" -> jsonl; Error(kUsage) otherwise.
OutputFormat output_format_for_path(const std::string& path);

struct Prediction {
  int64_t line = 0;                       // input line number (1-based), 0 = not from a file
  std::string text;
  std::optional<std::string> true_label;  // the input's own label text, if it had one
  std::optional<int64_t> true_index;      // its class, when it names one of the run's
  int64_t label = 0;                      // argmax class
  std::vector<float> probabilities;       // one per class
  float probability() const { return probabilities.at(static_cast<size_t>(label)); }
};

// One Prediction per row of `proba` [n, K] (label = argmax, first on ties).
std::vector<Prediction> predictions_from(const torch::Tensor& proba);

// A probability rounded to 6 decimals, for output that is stable and short.
double round_probability(double p);

// Writes predictions in one format with a fixed set of columns.
class PredictionWriter {
 public:
  PredictionWriter(OutputFormat format, std::vector<std::string> labels, bool include_text,
                   bool include_true_label);
  // The CSV header line (with '\n'); empty for JSON lines.
  std::string header() const;
  std::string format(const Prediction& p) const;  // one row, with '\n'
  // The JSON object of a row (also used for --json on the terminal).
  nlohmann::ordered_json to_json(const Prediction& p) const;

 private:
  OutputFormat format_;
  std::vector<std::string> labels_;
  bool include_text_;
  bool include_true_label_;
};

// A usage error (exit 2) when `out` cannot take the predictions: a folder, a
// file where a parent folder should be. Checked before any model loads, not
// after the job.
void check_output_path(const std::string& out);

// "OUT.partial" and "OUT.partial.json".
std::string partial_path_for(const std::string& out);
std::string partial_meta_path_for(const std::string& out);

struct PredictFileOptions {
  std::string input;                           // path or "-" (stdin)
  DataFormat input_format = DataFormat::kAuto; // auto: from the extension; "-" reads TSV/plain lines
  std::string output = "-";                    // path or "-" (stdout)
  std::optional<OutputFormat> output_format;   // default: from output's extension
  int64_t batch_size = 16;                     // rows per prediction call and per flush
  bool include_text = true;
  bool restart = false;        // discard an existing OUT.partial instead of resuming it
  bool skip_bad_rows = false;
  Columns columns;             // --text-column, --label-column
  bool bom = false;            // CSV output starts with a UTF-8 byte-order mark (Excel)
  bool progress = true;        // progress line on stderr
  // What produced the predictions (run folders), stored with the partial
  // output so that a resume with other runs is refused.
  std::vector<std::string> runs;
  // Streams for "-" and for messages (tests); default std::cin/cout/cerr.
  std::istream* stdin_stream = nullptr;
  std::ostream* stdout_stream = nullptr;
  std::ostream* log = nullptr;
  // Stops as an interruption would (Ctrl-C) once this many batches are
  // written (0 = never); for tests and for trying resume out.
  int64_t stop_after_batches = 0;
};

struct PredictFileResult {
  int64_t rows_written = 0;   // in this call
  int64_t rows_resumed = 0;   // found done in OUT.partial and skipped
  int64_t labelled = 0;       // rows (resumed ones included) that carried a label known to the classifier
  int64_t correct = 0;        // ... and were predicted right
  bool interrupted = false;   // Ctrl-C or stop_after_batches: OUT.partial stays, OUT not written
  std::vector<BadRow> bad_rows;
};

// Streams `options.input` through `classifier` in batches: constant memory,
// a progress line, rows flushed per batch. See the resume rules above. The
// first Ctrl-C finishes the current batch and returns interrupted; a second
// one ends the process.
PredictFileResult predict_file(TextClassifier& classifier, const PredictFileOptions& options);

}  // namespace qsenti
