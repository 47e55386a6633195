#pragma once
// Prometheus counters, gauges and histograms under text-embeddings-inference's
// names (te_request_count, te_request_failure{err}, te_batch_next_size, ...),
// so dashboards made for TEI read qsenti serve. Thread-safe.
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace qsenti::serve {

class Metrics {
 public:
  Metrics();
  // labels: `method="predict"` style, "" for none.
  void inc(const std::string& name, const std::string& labels = "", double by = 1);
  void set(const std::string& name, double value, const std::string& labels = "");
  void observe(const std::string& name, double value, const std::string& labels = "");
  double counter(const std::string& name, const std::string& labels = "") const;  // for tests
  double gauge(const std::string& name, const std::string& labels = "") const;    // for tests
  std::string render() const;  // Prometheus text format 0.0.4

 private:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<double> counts;  // one more than bounds: +Inf
    double sum = 0, count = 0;
  };
  const std::vector<double>& bounds_for(const std::string& name) const;
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, double>> counters_, gauges_;
  std::map<std::string, std::map<std::string, Histogram>> histograms_;
  std::vector<double> seconds_bounds_, size_bounds_, token_bounds_;
};

}  // namespace qsenti::serve
