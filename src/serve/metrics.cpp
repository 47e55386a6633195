#include "serve/metrics.h"

#include <sstream>

namespace qsenti::serve {

Metrics::Metrics() {
  for (double b = 0.0005; b < 60; b *= 2) seconds_bounds_.push_back(b);  // 0.5 ms .. 33 s
  for (double b = 1; b <= 4096; b *= 2) size_bounds_.push_back(b);
  for (double b = 8; b <= 65536; b *= 2) token_bounds_.push_back(b);
  // Series TEI always exposes, present from the start so scrapers see them.
  set("te_queue_size", 0);
  set("te_batch_next_size", 0);
  set("te_batch_next_tokens", 0);
}

const std::vector<double>& Metrics::bounds_for(const std::string& name) const {
  if (name.find("duration") != std::string::npos) return seconds_bounds_;
  if (name.find("tokens") != std::string::npos || name.find("length") != std::string::npos) return token_bounds_;
  return size_bounds_;
}

void Metrics::inc(const std::string& name, const std::string& labels, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[name][labels] += by;
}

void Metrics::set(const std::string& name, double value, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[name][labels] = value;
}

void Metrics::observe(const std::string& name, double value, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = histograms_[name][labels];
  if (h.bounds.empty()) {
    h.bounds = bounds_for(name);
    h.counts.assign(h.bounds.size() + 1, 0);
  }
  size_t i = 0;
  while (i < h.bounds.size() && value > h.bounds[i]) ++i;
  h.counts[i] += 1;
  h.sum += value;
  h.count += 1;
}

namespace {
double value_of(const std::map<std::string, std::map<std::string, double>>& table, const std::string& name,
                const std::string& labels) {
  auto it = table.find(name);
  if (it == table.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second;
}
}  // namespace

double Metrics::gauge(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  return value_of(gauges_, name, labels);
}

double Metrics::counter(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  return value_of(counters_, name, labels);
}

namespace {
std::string series(const std::string& name, const std::string& labels, const std::string& extra = "") {
  std::string l = labels;
  if (!extra.empty()) l = l.empty() ? extra : l + "," + extra;
  return l.empty() ? name : name + "{" + l + "}";
}
}  // namespace

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  out.precision(10);
  for (const auto& [name, by] : counters_) {
    out << "# TYPE " << name << " counter\n";
    for (const auto& [labels, v] : by) out << series(name, labels) << " " << v << "\n";
  }
  for (const auto& [name, by] : gauges_) {
    out << "# TYPE " << name << " gauge\n";
    for (const auto& [labels, v] : by) out << series(name, labels) << " " << v << "\n";
  }
  for (const auto& [name, by] : histograms_) {
    out << "# TYPE " << name << " histogram\n";
    for (const auto& [labels, h] : by) {
      double cum = 0;
      for (size_t i = 0; i < h.bounds.size(); ++i) {
        cum += h.counts[i];
        std::ostringstream le;
        le.precision(10);
        le << "le=\"" << h.bounds[i] << "\"";
        out << series(name + "_bucket", labels, le.str()) << " " << cum << "\n";
      }
      cum += h.counts.back();
      out << series(name + "_bucket", labels, "le=\"+Inf\"") << " " << cum << "\n";
      out << series(name + "_sum", labels) << " " << h.sum << "\n";
      out << series(name + "_count", labels) << " " << h.count << "\n";
    }
  }
  return out.str();
}

}  // namespace qsenti::serve
