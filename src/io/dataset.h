#pragma once
// Reading text-classification data: labelled files for training and
// evaluation, and unlabelled (or partly labelled) files for prediction.
//
// Formats:
//   tsv    text<TAB>label, one row a line (a line without a tab is a text with
//          no label). A first line whose fields include "label" and "text" (or
//          "review") is a header; columns are then found by name, in any
//          order, and other columns are ignored.
//   csv    RFC 4180: a header naming a "text" (or "review") column and,
//          for labelled reading, a "label" column, in any order (names
//          compared case-insensitively; "text" wins if both are present);
//          other columns are ignored. Quoted fields, doubled quotes and
//          newlines inside quotes are supported; a quote inside an unquoted
//          field is kept literally.
//   jsonl  one JSON object per line with "text" (or "review") and optionally
//          "label" (a string, or an integral number); other keys ignored.
//   plain  one text per line, no labels (prediction input).
// Columns (ReadOptions::columns, RowReader::set_columns; --text-column and
// --label-column): a header name (compared case-insensitively) or, when all
// digits, a 0-based index; for JSON lines always the key. A name in a TSV makes
// its first line the header. An index in a TSV without a header allows any
// number of fields. A named column missing from the header stops the read,
// listing the header's columns.
// In every format: a UTF-8 byte-order mark at the start is skipped, CRLF line
// ends are accepted, and blank lines (whitespace only, outside any quoted
// field) carry no row and are counted in blank_lines(). Labels are trimmed of
// surrounding whitespace; an empty label is the same as none.
//
// A bad row (wrong field count, empty text, invalid UTF-8, malformed JSON or
// quoting; when reading labelled data also a missing or unknown label) stops
// the read with qsenti::InputError "<file>:<line>: <problem>", or, with
// skip_bad_rows, is left out and recorded in bad_rows(). A missing header
// column or an unreadable file always stops the read.
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/labels.h"

namespace qsenti {

enum class DataFormat { kAuto, kTsv, kCsv, kJsonl, kPlain };

// "auto", "tsv", "csv", "jsonl" (also "json", "ndjson"), "plain" (also
// "txt-lines"); throws qsenti::Error on anything else.
DataFormat parse_data_format(const std::string& name);
const char* data_format_name(DataFormat format);
// From the extension: .tsv/.txt -> tsv, .csv -> csv, .jsonl/.ndjson/.json ->
// jsonl; "-" or "<stdin>" -> tsv. Throws qsenti::InputError for other extensions.
DataFormat data_format_for_path(const std::string& path);

struct BadRow {
  int64_t line = 0;
  std::string problem;
};

// "skipped 3 bad rows in data/x.tsv: line 4 (empty text), line 9 (...), ..."
// listing at most `max_listed`; empty string when there are none.
std::string describe_bad_rows(const std::string& source,
                              const std::vector<BadRow>& bad_rows,
                              size_t max_listed = 10);

// Which columns hold the text and the label; empty: the defaults above.
struct Columns {
  std::string text;
  std::string label;
  bool empty() const { return text.empty() && label.empty(); }
};

struct Row {
  std::string text;
  std::optional<std::string> label_text;  // trimmed, never empty
  int64_t line = 0;  // 1-based; for CSV the line where the record starts
};

// Reads rows one at a time, so a file of any size streams in constant memory
// (beyond the bad-row list).
class RowReader {
 public:
  // path "-" reads standard input (kAuto then means tsv).
  explicit RowReader(const std::string& path, DataFormat format = DataFormat::kAuto,
                     bool skip_bad_rows = false);
  // Reads `in`, which must outlive the reader; `source` names it in messages.
  // kAuto is resolved from `source`'s extension.
  RowReader(std::istream& in, const std::string& source,
            DataFormat format = DataFormat::kAuto, bool skip_bad_rows = false);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;

  // Before the first next(): where the text and the label are.
  void set_columns(const Columns& columns);

  // The next good row; false at the end of the input.
  bool next(Row& row);

  // The file as named in messages ("<stdin>" for "-").
  const std::string& source() const;
  DataFormat format() const;
  // Whether rows can carry labels at all (false for plain text, and for a CSV
  // or headed TSV without a label column). Known once the first next() ran.
  bool has_label_column() const;
  const std::vector<BadRow>& bad_rows() const;
  int64_t blank_lines() const;

  // Throws InputError unless rows can carry labels: for plain text, and for a
  // CSV whose header has no "label" column (reads the header if need be).
  void require_label_column();

  // Reports a problem with a row this reader returned (for checks made by the
  // caller, such as an unknown label): throws InputError "<source>:<line>:
  // <problem>", or records it when skipping bad rows.
  void bad_row(int64_t line, const std::string& problem);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A labelled dataset held in memory.
struct Dataset {
  std::string source;
  LabelSet label_set;
  std::vector<std::string> texts;
  std::vector<int64_t> labels;  // class indices into label_set
  std::vector<int64_t> lines;   // where each example came from
  std::vector<BadRow> bad_rows;
  int64_t blank_lines = 0;

  size_t size() const { return texts.size(); }
  std::vector<int64_t> class_counts() const;  // size label_set.size()
  // The examples at `indices`, in that order (same label set and source).
  Dataset subset(const std::vector<size_t>& indices) const;
};

struct ReadOptions {
  DataFormat format = DataFormat::kAuto;
  bool skip_bad_rows = false;
  // When given, labels are looked up in it and any other label is a bad row;
  // otherwise the label set is inferred from the file (LabelSet::infer).
  std::optional<LabelSet> labels;
  Columns columns;
};

// Reads a whole labelled file. Throws InputError also when no example is left.
// With an inferred label set, check label_set and class_counts() before
// training: a stray label text ("2" among 0/1) makes a class of its own.
Dataset read_dataset(const std::string& path, const ReadOptions& options = {});
Dataset read_dataset(std::istream& in, const std::string& source,
                     const ReadOptions& options = {});

}  // namespace qsenti
