#include "io/labels.h"

#include <algorithm>
#include <set>

#include "util/error.h"

namespace qsenti {
namespace {

constexpr const char* kBinaryNames[2] = {"negative", "positive"};
constexpr const char* kBinaryDisplay[2] = {"负面", "正面"};

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The class a binary alias stands for, or -1.
int binary_alias(std::string_view label) {
  const std::string s = ascii_lower(label);
  if (s == "0" || s == "negative" || s == "neg" || s == "负面") return 0;
  if (s == "1" || s == "positive" || s == "pos" || s == "正面") return 1;
  return -1;
}

// A canonical decimal integer: optional '-', no leading zeros, no "-0", fits
// in int64.
std::optional<int64_t> canonical_integer(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  std::string_view digits = neg ? s.substr(1) : s;
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  if (digits[0] == '0' && (digits.size() > 1 || neg)) return std::nullopt;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

}  // namespace

std::string_view trim_ascii(std::string_view s) {
  auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

LabelSet::LabelSet(std::vector<std::string> names) : names_(std::move(names)) {
  for (size_t i = 0; i < names_.size(); ++i) {
    const std::string& n = names_[i];
    if (trim_ascii(n).empty()) {
      throw InputError("label name " + std::to_string(i) + " is empty");
    }
    if (trim_ascii(n).size() != n.size()) {
      throw InputError("label name '" + n + "' has surrounding whitespace");
    }
    if (!index_.emplace(n, static_cast<int64_t>(i)).second) {
      throw InputError("label name '" + n + "' occurs twice");
    }
  }
  binary_aliases_ = names_.size() == 2 && names_[0] == kBinaryNames[0] &&
                    names_[1] == kBinaryNames[1];
}

LabelSet LabelSet::binary() { return LabelSet({kBinaryNames[0], kBinaryNames[1]}); }

LabelSet LabelSet::infer(const std::vector<std::string>& label_texts) {
  std::set<std::string> distinct;
  for (const auto& t : label_texts) {
    std::string_view s = trim_ascii(t);
    if (!s.empty()) distinct.emplace(s);
  }
  if (distinct.empty()) return LabelSet();
  if (std::all_of(distinct.begin(), distinct.end(),
                  [](const std::string& s) { return binary_alias(s) >= 0; })) {
    return binary();
  }
  std::vector<std::pair<int64_t, std::string>> numbered;
  for (const auto& s : distinct) {
    auto v = canonical_integer(s);
    if (!v) break;
    numbered.emplace_back(*v, s);
  }
  std::vector<std::string> names;
  if (numbered.size() == distinct.size()) {
    std::sort(numbered.begin(), numbered.end());
    for (auto& [v, s] : numbered) names.push_back(s);
  } else {
    names.assign(distinct.begin(), distinct.end());  // std::set: byte order
  }
  return LabelSet(std::move(names));
}

std::vector<std::string> LabelSet::stray_labels(const std::vector<std::string>& label_texts) {
  std::map<std::string, int64_t> rows;  // distinct trimmed text -> rows
  for (const auto& t : label_texts) {
    std::string_view s = trim_ascii(t);
    if (!s.empty()) ++rows[std::string(s)];
  }
  if (std::all_of(rows.begin(), rows.end(), [](const auto& r) { return binary_alias(r.first) >= 0; })) return {};
  int64_t int_rows = 0, other_rows = 0;
  std::map<int64_t, std::string> ints;
  for (const auto& [s, n] : rows) {
    if (auto v = canonical_integer(s)) {
      int_rows += n;
      ints.emplace(*v, s);
    } else {
      other_rows += n;
    }
  }
  std::vector<std::string> stray;
  if (int_rows > 0 && other_rows > 0) {
    const bool ints_are_stray = int_rows < other_rows;
    for (const auto& [s, n] : rows)
      if (canonical_integer(s).has_value() == ints_are_stray) stray.push_back(s);
    return stray;
  }
  if (other_rows > 0) return {};
  // All integers: split into contiguous runs, keep the run with most rows.
  std::vector<std::vector<int64_t>> runs;
  for (const auto& [v, s] : ints) {
    if (runs.empty() || v != runs.back().back() + 1) runs.emplace_back();
    runs.back().push_back(v);
  }
  if (runs.size() == 1) return {};
  size_t best = 0;
  int64_t best_rows = -1;
  for (size_t i = 0; i < runs.size(); ++i) {
    int64_t n = 0;
    for (int64_t v : runs[i]) n += rows[ints[v]];
    if (n > best_rows) best = i, best_rows = n;
  }
  for (size_t i = 0; i < runs.size(); ++i)
    if (i != best)
      for (int64_t v : runs[i]) stray.push_back(ints[v]);
  return stray;
}

const std::string& LabelSet::name(int64_t index) const {
  if (index < 0 || index >= static_cast<int64_t>(names_.size())) {
    throw Error("class index " + std::to_string(index) + " out of range for " +
                std::to_string(names_.size()) + " classes");
  }
  return names_[static_cast<size_t>(index)];
}

std::string LabelSet::display_name(int64_t index) const {
  const std::string& n = name(index);
  return binary_aliases_ ? kBinaryDisplay[index] : n;
}

std::optional<int64_t> LabelSet::index_of(std::string_view label) const {
  std::string_view s = trim_ascii(label);
  auto it = index_.find(std::string(s));
  if (it != index_.end()) return it->second;
  if (binary_aliases_) {
    int c = binary_alias(s);
    if (c >= 0) return c;
  }
  return std::nullopt;
}

}  // namespace qsenti
