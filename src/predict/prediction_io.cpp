#include "predict/prediction_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace qsenti {

OutputFormat parse_output_format(const std::string& name) {
  if (name == "jsonl" || name == "json" || name == "ndjson") return OutputFormat::kJsonl;
  if (name == "csv") return OutputFormat::kCsv;
  throw Error("unknown output format \"" + name + "\" (use jsonl or csv)", ExitCode::kUsage);
}

const char* output_format_name(OutputFormat format) { return format == OutputFormat::kCsv ? "csv" : "jsonl"; }

OutputFormat output_format_for_path(const std::string& path) {
  if (path == "-") return OutputFormat::kJsonl;
  std::string ext = fs::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".csv") return OutputFormat::kCsv;
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return OutputFormat::kJsonl;
  throw Error(path + ": cannot tell the output format from the extension '" + ext +
                  "' (use .jsonl or .csv, or give --out-format)",
              ExitCode::kUsage);
}

double round_probability(double p) { return std::round(p * 1e6) / 1e6; }

std::vector<Prediction> predictions_from(const torch::Tensor& proba) {
  torch::Tensor p = proba.to(torch::kFloat32).contiguous().cpu();
  if (p.dim() != 2) throw Error("classifier answered with a tensor of " + std::to_string(p.dim()) + " dimensions, expected 2");
  const int64_t n = p.size(0), k = p.size(1);
  const float* data = p.data_ptr<float>();
  std::vector<Prediction> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto& pred = out[static_cast<size_t>(i)];
    pred.probabilities.assign(data + i * k, data + (i + 1) * k);
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (pred.probabilities[j] > pred.probabilities[best]) best = j;
    pred.label = best;
  }
  return out;
}

// ---- writing rows -----------------------------------------------------------

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos && (s.empty() || (s.front() != ' ' && s.back() != ' ')))
    return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string number(double x) {
  // Shortest text that reads back as the rounded value (as JSON prints it).
  return nlohmann::json(round_probability(x)).dump();
}

}  // namespace

PredictionWriter::PredictionWriter(OutputFormat format, std::vector<std::string> labels, bool include_text,
                                   bool include_true_label)
    : format_(format), labels_(std::move(labels)), include_text_(include_text), include_true_label_(include_true_label) {}

std::string PredictionWriter::header() const {
  if (format_ != OutputFormat::kCsv) return "";
  std::string h = "line";
  if (include_text_) h += ",text";
  h += ",label,label_name,probability";
  for (const auto& l : labels_) h += "," + csv_field("p_" + l);
  if (include_true_label_) h += ",true_label,true_label_name";
  return h + "\n";
}

nlohmann::ordered_json PredictionWriter::to_json(const Prediction& p) const {
  nlohmann::ordered_json j;
  if (p.line > 0) j["line"] = p.line;
  if (include_text_) j["text"] = p.text;
  j["label"] = p.label;
  j["label_name"] = labels_.at(static_cast<size_t>(p.label));
  j["probability"] = round_probability(p.probability());
  nlohmann::ordered_json probs = nlohmann::ordered_json::object();
  for (size_t c = 0; c < labels_.size(); ++c) probs[labels_[c]] = round_probability(p.probabilities.at(c));
  j["probabilities"] = probs;
  // In the prediction's own terms (class id and name), so that label ==
  // true_label compares; a text that names no class keeps its raw form.
  if (include_true_label_ && p.true_label) {
    if (p.true_index) j["true_label"] = *p.true_index;
    else j["true_label"] = nullptr;
    j["true_label_name"] = p.true_index ? labels_.at(static_cast<size_t>(*p.true_index)) : *p.true_label;
  }
  return j;
}

std::string PredictionWriter::format(const Prediction& p) const {
  if (format_ == OutputFormat::kJsonl) return to_json(p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::string r = std::to_string(p.line);
  if (include_text_) r += "," + csv_field(p.text);
  r += "," + std::to_string(p.label) + "," + csv_field(labels_.at(static_cast<size_t>(p.label))) + "," +
       number(p.probability());
  for (size_t c = 0; c < labels_.size(); ++c) r += "," + number(p.probabilities.at(c));
  if (include_true_label_) {
    r += "," + (p.true_index ? std::to_string(*p.true_index) : std::string()) + ",";
    if (p.true_label) r += csv_field(p.true_index ? labels_.at(static_cast<size_t>(*p.true_index)) : *p.true_label);
  }
  return r + "\n";
}

void check_output_path(const std::string& out) {
  if (out.empty() || out == "-") return;
  std::error_code ec;
  if (fs::is_directory(out, ec)) throw Error("--out " + out + " is a folder; name a file such as " +
                                             (fs::path(out) / "predictions.jsonl").string(), ExitCode::kUsage);
  // A missing parent folder is made when the job starts; a file in its place is not.
  for (fs::path p = fs::path(out).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (fs::exists(p, ec) && !fs::is_directory(p, ec))
      throw Error("--out " + out + ": " + p.string() + " is a file, not a folder", ExitCode::kUsage);
}

std::string partial_path_for(const std::string& out) { return out + ".partial"; }
std::string partial_meta_path_for(const std::string& out) { return out + ".partial.json"; }

// ---- resuming ---------------------------------------------------------------

namespace {

struct PartialScan {
  int64_t rows = 0;
  int64_t last_line = 0;       // input line of the last complete row
  uint64_t good_bytes = 0;     // where the last complete row ends
  std::string csv_header;      // first record of a CSV partial
  int64_t labelled = 0;        // rows whose true label names a class
  int64_t correct = 0;         // ... and whose prediction is that class
};

constexpr const char* kUtf8Bom = "\xEF\xBB\xBF";

// The fields of one CSV record (RFC 4180 quoting, as csv_field writes them).
std::vector<std::string> split_csv_record(const std::string& record) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (quoted) {
      if (c == '"' && i + 1 < record.size() && record[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\n' && c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

// Reads OUT.partial, trusting only complete rows (a row cut by a crash has
// no final newline). Rows are in input order, so the last line number says
// where to go on.
PartialScan scan_partial(const std::string& path, OutputFormat format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": " + std::strerror(errno));
  PartialScan scan;
  std::string record;
  uint64_t offset = 0;
  int64_t record_no = 0;
  auto fail = [&](const std::string& why) {
    throw InputError(path + ": row " + std::to_string(record_no) + ": " + why +
                     " (not a partial output of qsenti predict? remove it or pass --restart)");
  };
  while (true) {
    // One record: up to a newline outside CSV quotes.
    record.clear();
    bool quoted = false, complete = false;
    char c;
    while (in.get(c)) {
      record += c;
      if (format == OutputFormat::kCsv && c == '"') quoted = !quoted;
      if (c == '\n' && !quoted) {
        complete = true;
        break;
      }
    }
    if (!complete) break;  // end of file, or a cut row: dropped
    ++record_no;
    int64_t line = 0;
    if (format == OutputFormat::kCsv) {
      if (record_no == 1) {
        scan.csv_header = record;
        offset += record.size();
        scan.good_bytes = offset;
        continue;
      }
      size_t comma = record.find(',');
      try {
        size_t pos = 0;
        line = std::stoll(record.substr(0, comma), &pos);
        if (pos != comma) fail("first field is not a line number");
      } catch (const std::logic_error&) {
        fail("first field is not a line number");
      }
    } else {
      nlohmann::json j = nlohmann::json::parse(record, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("line") || !j["line"].is_number_integer())
        fail("not a JSON object with a \"line\"");
      line = j["line"].get<int64_t>();
    }
    if (line <= scan.last_line) fail("line numbers are not increasing");
    // The rows' own accuracy, so a resumed job reports it over every row.
    if (format == OutputFormat::kCsv) {
      static const std::string kTrue = ",true_label,true_label_name\n";
      const bool has_truth = scan.csv_header.size() >= kTrue.size() &&
                             scan.csv_header.compare(scan.csv_header.size() - kTrue.size(), kTrue.size(), kTrue) == 0;
      if (has_truth) {
        const auto f = split_csv_record(record);
        const size_t from = scan.csv_header.rfind(kUtf8Bom, 0) == 0 ? 3 : 0;  // --bom
        const bool with_text = scan.csv_header.compare(from, 10, "line,text,") == 0;
        const size_t label_at = with_text ? 2 : 1;
        if (f.size() >= label_at + 3 && !f[f.size() - 2].empty()) {
          ++scan.labelled;
          scan.correct += f[label_at] == f[f.size() - 2];
        }
      }
    } else {
      nlohmann::json j = nlohmann::json::parse(record, nullptr, false);
      if (j.contains("true_label") && j["true_label"].is_number_integer() && j.contains("label")) {
        ++scan.labelled;
        scan.correct += j["true_label"] == j["label"];
      }
    }
    scan.last_line = line;
    ++scan.rows;
    offset += record.size();
    scan.good_bytes = offset;
  }
  return scan;
}

nlohmann::json job_description(const PredictFileOptions& o, OutputFormat out_format, DataFormat in_format) {
  nlohmann::json j;
  std::error_code ec;
  if (o.input == "-") {
    j["input"] = "-";
  } else {
    j["input"] = fs::absolute(o.input, ec).lexically_normal().string();
    j["input_bytes"] = static_cast<uint64_t>(fs::file_size(o.input, ec));
  }
  j["input_format"] = in_format == DataFormat::kAuto ? "auto" : data_format_name(in_format);
  std::vector<std::string> runs;
  for (const auto& r : o.runs) runs.push_back(fs::absolute(r, ec).lexically_normal().string());
  j["runs"] = runs;
  j["output_format"] = output_format_name(out_format);
  j["include_text"] = o.include_text;
  // Only when given, so that the partial outputs of older jobs still resume.
  if (!o.columns.text.empty()) j["text_column"] = o.columns.text;
  if (!o.columns.label.empty()) j["label_column"] = o.columns.label;
  if (o.bom) j["bom"] = true;
  return j;
}

// Rows to expect, for the progress line: newlines in a file (CSV records
// may span lines, so CSV is counted as unknown).
int64_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(1 << 20);
  int64_t n = 0;
  char last = '\n';
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    const auto got = static_cast<size_t>(in.gcount());
    for (size_t i = 0; i < got; ++i) n += buf[i] == '\n';
    last = buf[got - 1];
  }
  return n + (last != '\n');
}

// The finished .partial into place; on failure it stays, with every row.
void sync_and_rename(const std::string& from, const std::string& to) {
  try {
    rename_into_place(from, to);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (the rows are kept in " + from + ")");
  }
}

}  // namespace

// ---- the file job -------------------------------------------------------------

PredictFileResult predict_file(TextClassifier& classifier, const PredictFileOptions& o) {
  std::ostream& log = o.log ? *o.log : std::cerr;
  if (o.batch_size < 1) throw Error("--batch-size must be at least 1", ExitCode::kUsage);
  const bool to_stdout = o.output == "-";
  check_output_path(o.output);
  const OutputFormat out_format = o.output_format ? *o.output_format : output_format_for_path(o.output);
  if (o.bom && out_format != OutputFormat::kCsv)
    throw Error("--bom is for CSV output (--out-format csv or an --out ending in .csv)", ExitCode::kUsage);
  DataFormat in_format = o.input_format;
  if (in_format == DataFormat::kAuto) in_format = data_format_for_path(o.input);
  if (!to_stdout && o.input != "-") {
    std::error_code ec;
    if (fs::equivalent(o.input, o.output, ec)) throw Error("--out " + o.output + " is the input file", ExitCode::kUsage);
  }

  std::unique_ptr<RowReader> reader;
  if (o.input == "-") reader = std::make_unique<RowReader>(o.stdin_stream ? *o.stdin_stream : std::cin, "<stdin>", in_format, o.skip_bad_rows);
  else reader = std::make_unique<RowReader>(o.input, in_format, o.skip_bad_rows);
  reader->set_columns(o.columns);

  PredictFileResult result;
  const std::string partial = to_stdout ? "" : partial_path_for(o.output);
  const std::string meta_path = to_stdout ? "" : partial_meta_path_for(o.output);
  const nlohmann::json job = job_description(o, out_format, o.input_format);
  PartialScan done;
  std::ofstream file;
  std::ostream* out = nullptr;
  if (to_stdout) {
    out = o.stdout_stream ? o.stdout_stream : &std::cout;
  } else {
    if (fs::path(o.output).has_parent_path()) fs::create_directories(fs::path(o.output).parent_path());
    if (o.restart) {
      std::remove(partial.c_str());
      std::remove(meta_path.c_str());
    }
    if (fs::exists(partial)) {
      nlohmann::json old;
      std::ifstream m(meta_path);
      if (m) old = nlohmann::json::parse(m, nullptr, false);
      if (!m || old.is_discarded())
        throw InputError(partial + " has no readable " + meta_path +
                         "; cannot tell which job wrote it (remove it or pass --restart)");
      if (old != job)
        throw InputError(partial + " was written by another job (" + old.dump() + ", now " + job.dump() +
                         "); run that job again to finish it, or pass --restart to start over");
      done = scan_partial(partial, out_format);
      fs::resize_file(partial, done.good_bytes);
      result.rows_resumed = done.rows;
      result.labelled = done.labelled;
      result.correct = done.correct;
      log << "resuming " << partial << ": " << done.rows << " rows done (input up to line " << done.last_line
          << "), predicting the rest\n";
    } else {
      write_text_atomically(meta_path, job.dump(2) + "\n");
    }
    file.open(partial, std::ios::binary | std::ios::app);
    if (!file) throw Error("cannot write " + partial + ": " + std::strerror(errno));
    out = &file;
  }

  LabelSet label_set(classifier.labels());
  std::unique_ptr<PredictionWriter> writer;
  std::unique_ptr<Progress> progress;
  int64_t batches = 0;
  std::vector<Row> batch;
  batch.reserve(static_cast<size_t>(o.batch_size));
  InterruptScope interrupt_scope;  // Ctrl-C or SIGTERM: finish the batch, keep OUT.partial

  auto start_output = [&]() {
    // The columns depend on whether the input has labels: known after the first row.
    writer = std::make_unique<PredictionWriter>(out_format, classifier.labels(), o.include_text, reader->has_label_column());
    // Excel reads a CSV as UTF-8 only after a byte-order mark.
    const std::string header = (o.bom ? std::string(kUtf8Bom) : std::string()) + writer->header();
    if (!done.csv_header.empty() && done.csv_header != header)
      throw InputError(partial + ": its columns (" + done.csv_header.substr(0, done.csv_header.size() - 1) +
                       ") differ from this job's; pass --restart to start over");
    if (done.csv_header.empty()) *out << header;
    ProgressOptions po;
    po.label = "predict";
    po.unit = "rows";
    po.enabled = o.progress;
    po.out = &log;
    int64_t total = 0;
    if (o.input != "-" && in_format != DataFormat::kCsv) total = std::max<int64_t>(0, count_lines(o.input) - done.rows);
    progress = std::make_unique<Progress>(total, po);
  };

  auto flush_batch = [&]() {
    if (batch.empty()) return;
    std::vector<std::string> texts;
    texts.reserve(batch.size());
    for (const auto& r : batch) texts.push_back(r.text);
    auto preds = predictions_from(classifier.predict_proba(texts));
    if (preds.size() != batch.size()) throw Error("classifier answered " + std::to_string(preds.size()) + " rows for " + std::to_string(batch.size()) + " texts");
    std::string chunk;
    for (size_t i = 0; i < batch.size(); ++i) {
      preds[i].line = batch[i].line;
      preds[i].text = std::move(batch[i].text);
      preds[i].true_label = batch[i].label_text;
      if (preds[i].true_label) {
        if (auto idx = label_set.index_of(*preds[i].true_label)) {
          preds[i].true_index = *idx;
          ++result.labelled;
          result.correct += *idx == preds[i].label;
        }
      }
      chunk += writer->format(preds[i]);
    }
    *out << chunk;
    out->flush();
    if (!*out) throw Error("error while writing " + (to_stdout ? std::string("standard output") : partial) + " (disk full?)");
    result.rows_written += static_cast<int64_t>(batch.size());
    progress->advance(static_cast<int64_t>(batch.size()));
    batch.clear();
    ++batches;
  };

  Row row;
  bool started = false;
  while (reader->next(row)) {
    if (!started) {
      start_output();
      started = true;
    }
    if (row.line <= done.last_line) continue;  // finished in an earlier run
    batch.push_back(std::move(row));
    if (static_cast<int64_t>(batch.size()) == o.batch_size) {
      flush_batch();
      if (interrupt_requested() || (o.stop_after_batches > 0 && batches >= o.stop_after_batches)) {
        result.interrupted = true;
        break;
      }
    }
  }
  if (!started) start_output();  // an empty input still gets its header
  if (!result.interrupted) flush_batch();
  result.bad_rows = reader->bad_rows();
  if (progress) progress->finish();

  if (!to_stdout) {
    file.close();
    if (result.interrupted) {
      log << "interrupted" << (interrupt_requested() ? std::string(" by ") + interrupt_name() : std::string()) << ": " << (result.rows_resumed + result.rows_written) << " rows are in " << partial
          << "; run the same command again to predict the rest\n";
    } else {
      sync_and_rename(partial, o.output);
      std::remove(meta_path.c_str());
    }
  }
  if (!result.bad_rows.empty()) log << describe_bad_rows(reader->source(), result.bad_rows) << "\n";
  return result;
}

}  // namespace qsenti
