#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "util/error.h"

namespace qsenti {
namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Terminal columns taken by a UTF-8 string (East Asian wide characters take 2).
size_t display_width(const std::string& s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += len;
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
    width += wide ? 2 : 1;
  }
  return width;
}

std::string pad_left(const std::string& s, size_t width) {
  const size_t w = display_width(s);
  return w >= width ? s : std::string(width - w, ' ') + s;
}

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

Metrics compute(const std::vector<int64_t>& labels, const double* probs, size_t n_probs,
                const std::vector<std::string>& class_names) {
  const size_t n = labels.size();
  const size_t k = class_names.size();
  if (n == 0) throw Error("metrics: no examples");
  if (k == 0) throw Error("metrics: no classes");
  if (n_probs != n * k) {
    throw Error("metrics: " + std::to_string(n) + " labels but " + std::to_string(n_probs) +
                " probabilities for " + std::to_string(k) + " classes");
  }
  Metrics m;
  m.n = static_cast<int64_t>(n);
  m.confusion.assign(k, std::vector<int64_t>(k, 0));
  double loss = 0;
  std::vector<double> score1;
  std::vector<bool> positive;
  for (size_t i = 0; i < n; ++i) {
    const int64_t y = labels[i];
    if (y < 0 || y >= static_cast<int64_t>(k)) {
      throw Error("metrics: label " + std::to_string(y) + " of example " + std::to_string(i) +
                  " is outside 0.." + std::to_string(k - 1));
    }
    const double* row = probs + i * k;
    size_t pred = 0;
    for (size_t c = 0; c < k; ++c) {
      if (!std::isfinite(row[c])) {
        throw Error("metrics: non-finite probability for example " + std::to_string(i));
      }
      if (row[c] > row[pred]) pred = c;
    }
    ++m.confusion[static_cast<size_t>(y)][pred];
    loss -= std::log(std::max(row[y], 1e-15));
    if (k == 2) {
      score1.push_back(row[1]);
      positive.push_back(y == 1);
    }
  }
  m.log_loss = loss / static_cast<double>(n);

  int64_t correct = 0;
  double macro_f1 = 0, weighted_f1 = 0, recall_sum = 0;
  int macro_classes = 0, present_classes = 0;
  for (size_t c = 0; c < k; ++c) {
    ClassMetrics cm;
    cm.name = class_names[c];
    const int64_t tp = m.confusion[c][c];
    correct += tp;
    for (size_t j = 0; j < k; ++j) {
      cm.support += m.confusion[c][j];
      cm.predicted += m.confusion[j][c];
    }
    cm.precision = ratio(tp, cm.predicted);
    cm.recall = ratio(tp, cm.support);
    cm.f1 = ratio(2 * cm.precision * cm.recall, cm.precision + cm.recall);
    if (cm.support > 0 || cm.predicted > 0) {
      macro_f1 += cm.f1;
      ++macro_classes;
    }
    if (cm.support > 0) {
      recall_sum += cm.recall;
      ++present_classes;
    }
    weighted_f1 += cm.f1 * cm.support;
    m.per_class.push_back(std::move(cm));
  }
  m.accuracy = ratio(correct, n);
  m.macro_f1 = ratio(macro_f1, macro_classes);
  m.weighted_f1 = ratio(weighted_f1, n);
  m.balanced_accuracy = ratio(recall_sum, present_classes);
  if (k == 2) m.roc_auc = roc_auc(score1, positive);
  return m;
}

}  // namespace

std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  if (scores.size() != positive.size()) throw Error("roc_auc: size mismatch");
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (double s : scores) {
    if (std::isnan(s)) throw Error("roc_auc: NaN score");
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the (1-based, tie-averaged) ranks of the positives.
  double rank_sum = 0;
  double n_pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t t = i; t < j; ++t) {
      if (positive[order[t]]) {
        rank_sum += avg_rank;
        n_pos += 1;
      }
    }
    i = j;
  }
  const double n_neg = static_cast<double>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return std::nullopt;
  return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg);
}

Metrics compute_metrics(const std::vector<int64_t>& labels,
                        const std::vector<std::vector<double>>& probs,
                        const std::vector<std::string>& class_names) {
  if (probs.size() != labels.size()) {
    throw Error("metrics: " + std::to_string(labels.size()) + " labels but " +
                std::to_string(probs.size()) + " probability rows");
  }
  std::vector<double> flat;
  flat.reserve(probs.size() * class_names.size());
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i].size() != class_names.size()) {
      throw Error("metrics: probability row " + std::to_string(i) + " has " +
                  std::to_string(probs[i].size()) + " values for " +
                  std::to_string(class_names.size()) + " classes");
    }
    flat.insert(flat.end(), probs[i].begin(), probs[i].end());
  }
  return compute(labels, flat.data(), flat.size(), class_names);
}

Metrics compute_metrics_flat(const std::vector<int64_t>& labels, const std::vector<double>& probs,
                             const std::vector<std::string>& class_names) {
  return compute(labels, probs.data(), probs.size(), class_names);
}

nlohmann::json to_json(const Metrics& m) {
  nlohmann::json j;
  j["n"] = m.n;
  j["accuracy"] = m.accuracy;
  j["macro_f1"] = m.macro_f1;
  j["weighted_f1"] = m.weighted_f1;
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["log_loss"] = m.log_loss;
  if (m.roc_auc) j["roc_auc"] = *m.roc_auc;
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : m.per_class) {
    classes.push_back({{"name", c.name},
                       {"precision", c.precision},
                       {"recall", c.recall},
                       {"f1", c.f1},
                       {"support", c.support},
                       {"predicted", c.predicted}});
  }
  j["classes"] = std::move(classes);
  j["confusion_matrix"] = m.confusion;
  return j;
}

std::string format_report(const Metrics& m) {
  size_t name_w = std::string("weighted avg").size();
  for (const auto& c : m.per_class) name_w = std::max(name_w, display_width(c.name));
  constexpr size_t kCol = 10;
  auto line = [&](const std::string& name, const std::string& p, const std::string& r,
                  const std::string& f, const std::string& s) {
    return pad_left(name, name_w) + pad_left(p, kCol) + pad_left(r, kCol) + pad_left(f, kCol) +
           pad_left(s, kCol) + "\n";
  };
  std::string out = line("", "precision", "recall", "f1-score", "support") + "\n";
  double mp = 0, mr = 0, wp = 0, wr = 0;
  int macro_classes = 0;
  for (const auto& c : m.per_class) {
    out += line(c.name, fixed4(c.precision), fixed4(c.recall), fixed4(c.f1),
                std::to_string(c.support));
    if (c.support > 0 || c.predicted > 0) {
      mp += c.precision;
      mr += c.recall;
      ++macro_classes;
    }
    wp += c.precision * c.support;
    wr += c.recall * c.support;
  }
  const double n = static_cast<double>(std::max<int64_t>(m.n, 1));
  const double mc = std::max(macro_classes, 1);
  out += "\n";
  out += line("accuracy", "", "", fixed4(m.accuracy), std::to_string(m.n));
  out += line("macro avg", fixed4(mp / mc), fixed4(mr / mc), fixed4(m.macro_f1),
              std::to_string(m.n));
  out += line("weighted avg", fixed4(wp / n), fixed4(wr / n), fixed4(m.weighted_f1),
              std::to_string(m.n));
  out += "\n";
  out += "balanced accuracy  " + fixed4(m.balanced_accuracy) + "\n";
  if (m.roc_auc) out += "ROC AUC            " + fixed4(*m.roc_auc) + "\n";
  out += "log loss           " + fixed4(m.log_loss) + "\n";

  out += "\nconfusion matrix (rows = true, columns = predicted):\n";
  size_t cell_w = 1;
  for (const auto& row : m.confusion) {
    for (int64_t v : row) cell_w = std::max(cell_w, std::to_string(v).size());
  }
  size_t row_name_w = 0;
  for (const auto& c : m.per_class) {
    cell_w = std::max(cell_w, display_width(c.name));
    row_name_w = std::max(row_name_w, display_width(c.name));
  }
  cell_w += 2;
  std::string header = std::string(2 + row_name_w, ' ');
  for (const auto& c : m.per_class) header += pad_left(c.name, cell_w);
  out += header + "\n";
  for (size_t r = 0; r < m.confusion.size(); ++r) {
    std::string row = "  " + pad_left(m.per_class[r].name, row_name_w);
    for (int64_t v : m.confusion[r]) row += pad_left(std::to_string(v), cell_w);
    out += row + "\n";
  }
  return out;
}

}  // namespace qsenti
