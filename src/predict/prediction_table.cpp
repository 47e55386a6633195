#include "predict/prediction_table.h"

#include <cstdio>

#include "io/labels.h"

namespace qsenti {

namespace {

// Decodes one code point at s[i] (advancing i); invalid bytes count as one cell.
char32_t next_code_point(const std::string& s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + len > s.size()) len = 1;
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

bool is_wide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) || (cp >= 0x3041 && cp <= 0x33FF) ||
         (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
         (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
         (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

bool is_zero_width(char32_t cp) { return (cp >= 0x300 && cp <= 0x36F) || cp == 0x200B || cp == 0x200D || cp == 0xFE0F; }

size_t cells_of(char32_t cp) { return is_zero_width(cp) ? 0 : is_wide(cp) ? 2 : 1; }

}  // namespace

size_t display_width(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();) w += cells_of(next_code_point(s, i));
  return w;
}

std::string truncate_to_width(const std::string& s, size_t cells) {
  if (display_width(s) <= cells) return s;
  std::string out;
  size_t w = 0;
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    size_t c = cells_of(next_code_point(s, i));
    if (w + c + 1 > cells) break;  // keep a cell for the ellipsis
    out.append(s, start, i - start);
    w += c;
  }
  return out + "…";
}

std::string label_display(const std::vector<std::string>& labels, int64_t label) {
  LabelSet set(labels);
  const std::string& name = set.name(label);
  const std::string shown = set.display_name(label);
  return shown == name ? name : name + " " + shown;
}

std::string format_probability(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", p);
  return buf;
}

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& r) {
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], display_width(r[c]));
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) {
      s += r[c];
      if (c + 1 < r.size()) s += std::string(width[c] - display_width(r[c]) + 2, ' ');
    }
    return s + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::vector<std::string> prediction_header(const std::string& who_title, const std::vector<std::string>& labels) {
  std::vector<std::string> h{who_title, "label", "prob"};
  for (const auto& l : labels) h.push_back("p(" + l + ")");
  return h;
}

std::vector<std::string> prediction_cells(const std::string& who, const Prediction& p,
                                          const std::vector<std::string>& labels) {
  std::vector<std::string> cells{who, label_display(labels, p.label), format_probability(p.probability())};
  for (float x : p.probabilities) cells.push_back(format_probability(x));
  return cells;
}

}  // namespace qsenti

namespace qsenti {

namespace {
constexpr size_t kTextCells = 40;

nlohmann::ordered_json answer_json(const Prediction& p, const std::vector<std::string>& labels) {
  PredictionWriter w(OutputFormat::kJsonl, labels, false, false);
  Prediction copy = p;
  copy.line = 0;
  return w.to_json(copy);
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}
}  // namespace

std::string render_answers(const std::string& run, const std::vector<Prediction>& predictions,
                           const std::vector<std::string>& labels, bool json) {
  if (json) {
    std::string out;
    for (const auto& p : predictions) {
      nlohmann::ordered_json j;
      j["text"] = p.text;
      j["run"] = run;
      const auto answer = answer_json(p, labels);  // items() does not keep a temporary alive
      for (auto& [k, v] : answer.items()) j[k] = v;
      out += dump(j);
    }
    return out;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : predictions) rows.push_back(prediction_cells(truncate_to_width(p.text, kTextCells), p, labels));
  return "run: " + run + "\n" + format_table(prediction_header("text", labels), rows);
}

std::string render_comparison(const std::string& text, const std::vector<RunAnswer>& answers, const Prediction* ensemble,
                              const std::vector<std::string>& labels, bool json) {
  if (json) {
    nlohmann::ordered_json j;
    j["text"] = text;
    j["runs"] = nlohmann::ordered_json::array();
    for (const auto& a : answers) {
      nlohmann::ordered_json r;
      r["run"] = a.run;
      const auto answer = answer_json(a.prediction, labels);
      for (auto& [k, v] : answer.items()) r[k] = v;
      j["runs"].push_back(r);
    }
    j["ensemble"] = ensemble ? answer_json(*ensemble, labels) : nlohmann::ordered_json(nullptr);
    return dump(j);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : answers) rows.push_back(prediction_cells(a.run, a.prediction, labels));
  if (ensemble) rows.push_back(prediction_cells("ensemble (mean)", *ensemble, labels));
  return "text: " + truncate_to_width(text, 2 * kTextCells) + "\n" + format_table(prediction_header("run", labels), rows);
}

}  // namespace qsenti
