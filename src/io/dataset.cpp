#include "io/dataset.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace qsenti {
namespace {

constexpr size_t kNoError = static_cast<size_t>(-1);

// Offset of the first byte that is not part of well-formed UTF-8 (no overlong
// forms, no surrogates, nothing above U+10FFFF), or kNoError.
size_t utf8_error_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return kNoError;
}

bool is_blank(std::string_view s) { return trim_ascii(s).empty(); }

// Blank also when only ideographic spaces (U+3000) remain.
bool is_empty_text(std::string_view s) {
  s = trim_ascii(s);
  while (true) {
    if (s.size() >= 3 && s.substr(0, 3) == "\xE3\x80\x80") {
      s = trim_ascii(s.substr(3));
    } else {
      return s.empty();
    }
  }
}

std::string strip_cr(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    if (tab == std::string::npos) {
      out.push_back(line.substr(start));
      return out;
    }
    out.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

std::string lower_trimmed(std::string_view s) {
  std::string out(trim_ascii(s));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  return out;
}

// A column given as all digits is an index.
std::optional<int64_t> column_index(const std::string& column) {
  if (column.empty() || column.size() > 6) return std::nullopt;
  for (char c : column)
    if (c < '0' || c > '9') return std::nullopt;
  return std::stoll(column);
}

std::string display_source(const std::string& path) { return path == "-" ? "<stdin>" : path; }

std::string extension_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  return lower_trimmed(base.substr(dot));
}

}  // namespace

DataFormat parse_data_format(const std::string& name) {
  const std::string n = lower_trimmed(name);
  if (n == "auto") return DataFormat::kAuto;
  if (n == "tsv") return DataFormat::kTsv;
  if (n == "csv") return DataFormat::kCsv;
  if (n == "jsonl" || n == "json" || n == "ndjson") return DataFormat::kJsonl;
  if (n == "plain" || n == "txt-lines") return DataFormat::kPlain;
  throw Error("unknown data format '" + name + "' (expected auto, tsv, csv, jsonl or plain)",
              ExitCode::kUsage);
}

const char* data_format_name(DataFormat format) {
  switch (format) {
    case DataFormat::kAuto: return "auto";
    case DataFormat::kTsv: return "tsv";
    case DataFormat::kCsv: return "csv";
    case DataFormat::kJsonl: return "jsonl";
    case DataFormat::kPlain: return "plain";
  }
  return "?";
}

DataFormat data_format_for_path(const std::string& path) {
  if (path == "-" || path == "<stdin>") return DataFormat::kTsv;
  const std::string ext = extension_of(path);
  if (ext == ".tsv" || ext == ".txt") return DataFormat::kTsv;
  if (ext == ".csv") return DataFormat::kCsv;
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return DataFormat::kJsonl;
  throw InputError(path + ": cannot tell the data format from the extension '" + ext +
                   "' (expected .tsv, .txt, .csv or .jsonl); give the format explicitly");
}

std::string describe_bad_rows(const std::string& source, const std::vector<BadRow>& bad_rows,
                              size_t max_listed) {
  if (bad_rows.empty()) return "";
  std::string out = "skipped " + std::to_string(bad_rows.size()) +
                    (bad_rows.size() == 1 ? " bad row in " : " bad rows in ") + source + ": ";
  for (size_t i = 0; i < bad_rows.size() && i < max_listed; ++i) {
    if (i) out += ", ";
    out += "line " + std::to_string(bad_rows[i].line) + " (" + bad_rows[i].problem + ")";
  }
  if (bad_rows.size() > max_listed) {
    out += " and " + std::to_string(bad_rows.size() - max_listed) + " more";
  }
  return out;
}

// ---------------------------------------------------------------------------

struct RowReader::Impl {
  std::unique_ptr<std::ifstream> file;
  std::istream* in = nullptr;
  std::string source;
  DataFormat format = DataFormat::kTsv;
  bool skip = false;
  std::vector<BadRow> bad;
  int64_t blank = 0;
  int64_t line_no = 0;  // physical lines read so far

  bool started = false;
  bool headed = false;  // columns found by name (CSV, headed TSV)
  size_t n_columns = 0;
  int text_col = 0;
  int label_col = 1;  // -1: none
  int64_t header_line = 0;
  std::vector<std::string> header_names;
  Columns columns;  // as asked for; empty fields: the defaults
  std::optional<std::string> pending;  // a line read ahead (TSV header probe)
  int64_t pending_line = 0;

  bool read_line(std::string& line) {
    if (pending) {
      line = std::move(*pending);
      pending.reset();
      line_no = pending_line;
      return true;
    }
    if (!std::getline(*in, line)) {
      if (in->bad()) throw Error("error while reading " + source);
      return false;
    }
    ++line_no;
    if (line_no == 1 && line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) {
      line.erase(0, 3);
    }
    return true;
  }

  // A problem with the row at `line`: throws or records.
  void fail(int64_t line, const std::string& problem) {
    if (!skip) throw InputError(source + ":" + std::to_string(line) + ": " + problem);
    bad.push_back({line, problem});
  }

  std::string at(int64_t line) const { return source + ":" + std::to_string(line) + ": "; }

  // The column `wanted` names in a header: its index when all digits, else
  // the one column of that name; -1 when the name is absent.
  int column_in(const std::vector<std::string>& names, const std::string& wanted, int64_t line) const {
    if (const auto index = column_index(wanted)) {
      if (*index >= static_cast<int64_t>(names.size()))
        throw InputError(at(line) + "column " + wanted + " is past the header's " + std::to_string(names.size()) +
                         " columns (" + join_names(names) + ")");
      return static_cast<int>(*index);
    }
    const std::string n = lower_trimmed(wanted);
    int found = -1;
    for (size_t i = 0; i < names.size(); ++i) {
      if (lower_trimmed(names[i]) != n) continue;
      if (found >= 0) throw InputError(at(line) + "the header names column '" + n + "' twice");
      found = static_cast<int>(i);
    }
    return found;
  }

  // Finds the text and label columns in a header; throws when there is no
  // text column, or no label column that was asked for by name.
  void set_header(const std::vector<std::string>& names, int64_t line) {
    headed = true;
    header_line = line;
    n_columns = names.size();
    header_names = names;
    if (!columns.text.empty()) {
      text_col = column_in(names, columns.text, line);
      if (text_col < 0)
        throw InputError(at(line) + "the header has no column '" + columns.text + "' (--text-column; columns: " +
                         join_names(names) + ")");
    } else {
      text_col = column_in(names, "text", line);
      if (text_col < 0) text_col = column_in(names, "review", line);
      if (text_col < 0)
        throw InputError(at(line) + "the header has no 'text' or 'review' column (columns: " + join_names(names) +
                         "); name it with --text-column");
    }
    label_col = column_in(names, columns.label.empty() ? "label" : columns.label, line);
    if (label_col < 0 && !columns.label.empty())
      throw InputError(at(line) + "the header has no column '" + columns.label + "' (--label-column; columns: " +
                       join_names(names) + ")");
    if (label_col == text_col && columns.label.empty()) label_col = -1;  // --text-column label: no labels
    if (label_col == text_col)
      throw InputError(at(line) + "the text and the label are the same column (" + names[text_col] + ")");
  }

  void start() {
    if (started) return;
    started = true;
    if (format == DataFormat::kCsv) {
      std::vector<std::string> fields;
      int64_t line = 0;
      std::string error;
      if (!read_csv_record(fields, line, error)) {
        // Empty file: no header, no rows.
        headed = true;
        label_col = -1;
        return;
      }
      if (!error.empty()) {
        throw InputError(source + ":" + std::to_string(line) + ": in the header: " + error);
      }
      set_header(fields, line);
    } else if (format == DataFormat::kTsv) {
      std::string line;
      while (read_line(line)) {
        line = strip_cr(std::move(line));
        if (is_blank(line)) {
          ++blank;
          continue;
        }
        std::vector<std::string> fields = split_tabs(line);
        bool has_text = false, has_label = false;
        for (const auto& f : fields) {
          const std::string n = lower_trimmed(f);
          has_text |= n == "text" || n == "review";
          has_label |= n == "label";
        }
        // A column given by name can only be found in a header.
        const bool named = (!columns.text.empty() && !column_index(columns.text)) ||
                           (!columns.label.empty() && !column_index(columns.label));
        if (named || (has_text && has_label)) {
          set_header(fields, line_no);
        } else {
          pending = std::move(line);
          pending_line = line_no;
          if (!columns.empty()) {
            text_col = columns.text.empty() ? 0 : static_cast<int>(*column_index(columns.text));
            label_col = columns.label.empty() ? 1 : static_cast<int>(*column_index(columns.label));
            if (label_col == text_col)
              throw InputError(at(line_no) + "the text and the label are the same column (" +
                               std::to_string(text_col) + ")");
          }
        }
        return;
      }
    } else if (format == DataFormat::kPlain) {
      label_col = -1;
    }
  }

  // One CSV record (RFC 4180). False at the end of the input. A malformed
  // record still returns true, with `error` set and `line` its first line.
  bool read_csv_record(std::vector<std::string>& fields, int64_t& line, std::string& error) {
    fields.clear();
    error.clear();
    std::string text;
    while (true) {
      if (!read_line(text)) return false;
      if (!is_blank(text)) break;
      ++blank;
    }
    line = line_no;
    std::string field;
    bool in_quotes = false, after_close = false, at_field_start = true;
    while (true) {
      const size_t n = text.size();
      const bool cr = n > 0 && text[n - 1] == '\r';
      const size_t end = cr ? n - 1 : n;
      for (size_t i = 0; i < end; ++i) {
        const char c = text[i];
        if (in_quotes) {
          if (c == '"') {
            if (i + 1 < end && text[i + 1] == '"') {
              field += '"';
              ++i;
            } else {
              in_quotes = false;
              after_close = true;
            }
          } else {
            field += c;
          }
        } else if (c == ',') {
          fields.push_back(std::move(field));
          field.clear();
          after_close = false;
          at_field_start = true;
          continue;
        } else if (after_close) {
          if (error.empty()) error = "unexpected character after a closing quote";
          field += c;
        } else if (c == '"' && at_field_start) {
          in_quotes = true;
        } else {
          field += c;
        }
        at_field_start = false;
      }
      if (!in_quotes) {
        fields.push_back(std::move(field));
        return true;
      }
      if (cr) field += '\r';
      field += '\n';
      if (!read_line(text)) {
        error = "unterminated quoted field";
        fields.push_back(std::move(field));
        return true;
      }
    }
  }

  // Validates and stores a row; false (after recording) when it is bad.
  bool finish(Row& row, std::string text, std::optional<std::string> label, int64_t line) {
    size_t off = utf8_error_offset(text);
    if (off != kNoError) {
      fail(line, "invalid UTF-8 in the text at byte " + std::to_string(off + 1));
      return false;
    }
    if (label) {
      std::string trimmed(trim_ascii(*label));
      off = utf8_error_offset(trimmed);
      if (off != kNoError) {
        fail(line, "invalid UTF-8 in the label");
        return false;
      }
      if (trimmed.empty()) {
        label.reset();
      } else {
        label = std::move(trimmed);
      }
    }
    if (is_empty_text(text)) {
      fail(line, "empty text");
      return false;
    }
    row.text = std::move(text);
    row.label_text = std::move(label);
    row.line = line;
    return true;
  }

  // From a record of fields (CSV or headed TSV).
  bool from_columns(Row& row, std::vector<std::string>& fields, int64_t line,
                    const char* what) {
    if (fields.size() != n_columns) {
      fail(line, "expected " + std::to_string(n_columns) + " " + what + ", found " +
                     std::to_string(fields.size()));
      return false;
    }
    std::optional<std::string> label;
    if (label_col >= 0) label = std::move(fields[label_col]);
    return finish(row, std::move(fields[text_col]), std::move(label), line);
  }

  bool next_tsv(Row& row) {
    std::string line;
    while (read_line(line)) {
      line = strip_cr(std::move(line));
      if (is_blank(line)) {
        ++blank;
        continue;
      }
      std::vector<std::string> fields = split_tabs(line);
      if (headed) {
        if (from_columns(row, fields, line_no, "tab-separated fields")) return true;
        continue;
      }
      if (!columns.empty()) {
        // Columns by index: any number of fields; a row too short for the
        // label column has none.
        if (fields.size() <= static_cast<size_t>(text_col)) {
          fail(line_no, "expected at least " + std::to_string(text_col + 1) + " tab-separated fields, found " +
                            std::to_string(fields.size()));
          continue;
        }
        std::optional<std::string> label;
        if (fields.size() > static_cast<size_t>(label_col)) label = std::move(fields[label_col]);
        if (finish(row, std::move(fields[text_col]), std::move(label), line_no)) return true;
        continue;
      }
      if (fields.size() > 2) {
        fail(line_no, "expected text<TAB>label, found " + std::to_string(fields.size()) +
                          " tab-separated fields");
        continue;
      }
      std::optional<std::string> label;
      if (fields.size() == 2) label = std::move(fields[1]);
      if (finish(row, std::move(fields[0]), std::move(label), line_no)) return true;
    }
    return false;
  }

  bool next_plain(Row& row) {
    std::string line;
    while (read_line(line)) {
      line = strip_cr(std::move(line));
      if (is_blank(line)) {
        ++blank;
        continue;
      }
      if (finish(row, std::move(line), std::nullopt, line_no)) return true;
    }
    return false;
  }

  bool next_csv(Row& row) {
    std::vector<std::string> fields;
    int64_t line = 0;
    std::string error;
    while (read_csv_record(fields, line, error)) {
      if (!error.empty()) {
        fail(line, error);
        continue;
      }
      if (from_columns(row, fields, line, "comma-separated fields")) return true;
    }
    return false;
  }

  bool next_jsonl(Row& row) {
    using nlohmann::json;
    std::string line;
    while (read_line(line)) {
      line = strip_cr(std::move(line));
      if (is_blank(line)) {
        ++blank;
        continue;
      }
      const size_t off = utf8_error_offset(line);
      if (off != kNoError) {
        fail(line_no, "invalid UTF-8 at byte " + std::to_string(off + 1));
        continue;
      }
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception& e) {  // also out_of_range: a number like 1e999 (fuzz_dataset)
        std::string msg = e.what();
        size_t close = msg.find("] ");
        if (close != std::string::npos) msg = msg.substr(close + 2);
        if (trim_ascii(line).front() == '[') {
          msg = "this looks like a JSON array; JSON lines hold one object per line";
        }
        fail(line_no, "invalid JSON: " + msg);
        continue;
      }
      if (!j.is_object()) {
        fail(line_no, std::string("expected a JSON object, found ") + j.type_name() +
                          (j.is_array() ? " (JSON lines hold one object per line)" : ""));
        continue;
      }
      const std::string text_key = columns.text.empty() ? "text" : columns.text;
      auto t = j.find(text_key);
      if (t == j.end() && columns.text.empty()) t = j.find("review");
      if (t == j.end() || t->is_null()) {
        std::string problem = "missing \"" + text_key + "\"";
        if (!columns.text.empty()) {
          std::string keys;
          for (auto it = j.begin(); it != j.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
          problem += " (--text-column; keys: " + (keys.empty() ? std::string("none") : keys) + ")";
        }
        fail(line_no, problem);
        continue;
      }
      if (!t->is_string()) {
        fail(line_no, "\"" + text_key + "\" is a " + t->type_name() + ", not a string");
        continue;
      }
      std::optional<std::string> label;
      auto l = j.find(columns.label.empty() ? "label" : columns.label);
      if (l != j.end() && !l->is_null()) {
        if (l->is_string()) {
          label = l->get<std::string>();
        } else if (l->is_number_unsigned()) {
          label = std::to_string(l->get<uint64_t>());
        } else if (l->is_number_integer()) {
          label = std::to_string(l->get<int64_t>());
        } else if (l->is_number_float()) {
          const double v = l->get<double>();
          if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
            label = std::to_string(static_cast<int64_t>(v));
          } else {
            fail(line_no, "label " + l->dump() + " is not an integer");
            continue;
          }
        } else {
          fail(line_no, std::string("label is a ") + l->type_name() +
                            ", expected a string or a number");
          continue;
        }
      }
      if (finish(row, t->get<std::string>(), std::move(label), line_no)) return true;
    }
    return false;
  }
};

RowReader::RowReader(const std::string& path, DataFormat format, bool skip_bad_rows)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = display_source(path);
  impl_->format = format == DataFormat::kAuto ? data_format_for_path(path) : format;
  impl_->skip = skip_bad_rows;
  if (path == "-") {
    impl_->in = &std::cin;
  } else {
    impl_->file = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*impl_->file) throw InputError("cannot open " + path + ": " + std::strerror(errno));
    impl_->in = impl_->file.get();
  }
}

RowReader::RowReader(std::istream& in, const std::string& source, DataFormat format,
                     bool skip_bad_rows)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = source;
  impl_->format = format == DataFormat::kAuto ? data_format_for_path(source) : format;
  impl_->skip = skip_bad_rows;
  impl_->in = &in;
}

RowReader::~RowReader() = default;

bool RowReader::next(Row& row) {
  impl_->start();
  switch (impl_->format) {
    case DataFormat::kTsv: return impl_->next_tsv(row);
    case DataFormat::kCsv: return impl_->next_csv(row);
    case DataFormat::kJsonl: return impl_->next_jsonl(row);
    case DataFormat::kPlain: return impl_->next_plain(row);
    case DataFormat::kAuto: break;
  }
  throw Error("RowReader: unresolved data format");
}

void RowReader::set_columns(const Columns& columns) {
  if (impl_->started) throw Error("RowReader::set_columns after the first row");
  impl_->columns = columns;
}

const std::string& RowReader::source() const { return impl_->source; }
DataFormat RowReader::format() const { return impl_->format; }
bool RowReader::has_label_column() const { return impl_->label_col >= 0; }
const std::vector<BadRow>& RowReader::bad_rows() const { return impl_->bad; }
int64_t RowReader::blank_lines() const { return impl_->blank; }

void RowReader::bad_row(int64_t line, const std::string& problem) { impl_->fail(line, problem); }

void RowReader::require_label_column() {
  impl_->start();
  if (impl_->label_col >= 0) return;
  if (impl_->format == DataFormat::kPlain) {
    throw InputError(impl_->source + ": plain text has no labels (use tsv, csv or jsonl)");
  }
  if (impl_->header_names.empty()) return;  // empty file: reported as having no rows
  throw InputError(impl_->source + ":" + std::to_string(impl_->header_line) +
                   ": the header has no 'label' column (columns: " +
                   join_names(impl_->header_names) + "); name it with --label-column");
}

// ---------------------------------------------------------------------------

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(label_set.size(), 0);
  for (int64_t l : labels) {
    if (l >= 0 && l < static_cast<int64_t>(counts.size())) ++counts[static_cast<size_t>(l)];
  }
  return counts;
}

Dataset Dataset::subset(const std::vector<size_t>& indices) const {
  Dataset out;
  out.source = source;
  out.label_set = label_set;
  out.texts.reserve(indices.size());
  out.labels.reserve(indices.size());
  out.lines.reserve(indices.size());
  for (size_t i : indices) {
    if (i >= texts.size()) throw Error("Dataset::subset: index out of range");
    out.texts.push_back(texts[i]);
    out.labels.push_back(labels[i]);
    out.lines.push_back(lines[i]);
  }
  return out;
}

namespace {

Dataset read_all(RowReader& reader, const ReadOptions& options) {
  reader.require_label_column();
  Dataset ds;
  ds.source = reader.source();
  std::vector<std::string> label_texts;
  Row row;
  while (reader.next(row)) {
    if (!row.label_text) {
      reader.bad_row(row.line, "missing label");
      continue;
    }
    if (options.labels) {
      auto idx = options.labels->index_of(*row.label_text);
      if (!idx) {
        reader.bad_row(row.line, "unknown label '" + *row.label_text + "' (expected " +
                                     join_names(options.labels->names()) + ")");
        continue;
      }
      ds.labels.push_back(*idx);
    } else {
      label_texts.push_back(std::move(*row.label_text));
    }
    ds.texts.push_back(std::move(row.text));
    ds.lines.push_back(row.line);
  }
  if (options.labels) {
    ds.label_set = *options.labels;
  } else {
    // A stray label would silently become a class of its own (and a binary
    // file would lose its negative/positive names): refuse it, naming the row.
    const std::vector<std::string> stray = LabelSet::stray_labels(label_texts);
    if (!stray.empty()) {
      std::set<std::string> kept;
      for (const auto& t : label_texts) {
        std::string_view s = trim_ascii(t);
        if (!s.empty() && std::find(stray.begin(), stray.end(), s) == stray.end()) kept.emplace(s);
      }
      std::string others;
      for (const auto& k : kept) others += (others.empty() ? "" : ", ") + k;
      Dataset filtered;
      std::vector<std::string> filtered_labels;
      for (size_t i = 0; i < label_texts.size(); ++i) {
        const std::string label(trim_ascii(label_texts[i]));
        if (std::find(stray.begin(), stray.end(), label) == stray.end()) {
          filtered.texts.push_back(std::move(ds.texts[i]));
          filtered.lines.push_back(ds.lines[i]);
          filtered_labels.push_back(std::move(label_texts[i]));
          continue;
        }
        reader.bad_row(ds.lines[i], "label '" + label + "' does not fit the labels of the other rows (" + others +
                                        "): a typo? fix the row, or declare the classes with --labels");
      }
      ds.texts = std::move(filtered.texts);
      ds.lines = std::move(filtered.lines);
      label_texts = std::move(filtered_labels);
    }
    ds.label_set = LabelSet::infer(label_texts);
    ds.labels.reserve(label_texts.size());
    for (const auto& t : label_texts) ds.labels.push_back(*ds.label_set.index_of(t));
  }
  ds.bad_rows = reader.bad_rows();
  ds.blank_lines = reader.blank_lines();
  if (ds.texts.empty()) {
    std::string msg = ds.source + ": no labelled rows";
    if (!ds.bad_rows.empty()) {
      msg += " (" + std::to_string(ds.bad_rows.size()) + " bad rows skipped)";
    }
    throw InputError(msg);
  }
  return ds;
}

}  // namespace

Dataset read_dataset(const std::string& path, const ReadOptions& options) {
  RowReader reader(path, options.format, options.skip_bad_rows);
  reader.set_columns(options.columns);
  return read_all(reader, options);
}

Dataset read_dataset(std::istream& in, const std::string& source, const ReadOptions& options) {
  RowReader reader(in, source, options.format, options.skip_bad_rows);
  reader.set_columns(options.columns);
  return read_all(reader, options);
}

}  // namespace qsenti
