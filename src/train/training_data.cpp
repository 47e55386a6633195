#include "train/training_data.h"

#include <iostream>
#include <sstream>

#include "io/split.h"
#include "util/error.h"

namespace qsenti {

namespace {

// Always printed, --quiet or not: skipped rows are never dropped silently.
void report_bad_rows(const Dataset& d) {
  const std::string msg = describe_bad_rows(d.source, d.bad_rows);
  if (!msg.empty()) std::cerr << "warning: " << msg << "\n";
}

}  // namespace

std::string describe_truncation(const TruncationCounts& t) {
  if (t.train + t.valid + t.test == 0) return "";
  std::string out = "; ";
  const std::pair<const char*, int64_t> parts[] = {{"train", t.train}, {"valid", t.valid}, {"test", t.test}};
  bool first = true;
  for (const auto& [name, n] : parts) {
    if (n == 0) continue;
    out += (first ? "" : ", ") + std::to_string(n) + " " + name;
    first = false;
  }
  return out + " texts longer than " + std::to_string(t.max_length) + " tokens were truncated (--max-length)";
}

nlohmann::json to_json(const TruncationCounts& t) {
  return {{"train", t.train}, {"valid", t.valid}, {"test", t.test}, {"max_length", t.max_length}};
}

TrainingData load_training_data(const TrainOptions& o) {
  ReadOptions ro;
  ro.format = parse_data_format(o.data_format);
  ro.skip_bad_rows = o.skip_bad_rows;
  ro.columns = {o.text_column, o.label_column};
  if (!o.labels.empty()) ro.labels = LabelSet(o.labels);  // declared: any other label is a bad row
  TrainingData d;
  d.train = read_dataset(o.train_path, ro);
  report_bad_rows(d.train);
  // The binary label set has two names even when the file holds one of them:
  // count the labels that have examples.
  const auto counts = d.train.class_counts();
  std::string present;
  int64_t classes = 0;
  for (size_t k = 0; k < counts.size(); ++k)
    if (counts[k] > 0) ++classes, present += (present.empty() ? "'" : ", '") + d.train.label_set.name(k) + "'";
  if (classes < 2)
    throw InputError(o.train_path + ": a classifier needs examples of at least 2 labels, the file has only " + present);

  ro.labels = d.train.label_set;
  if (!o.valid_path.empty()) {
    d.valid = read_dataset(o.valid_path, ro);
    report_bad_rows(d.valid);
    d.valid_source = o.valid_path;
  } else {
    const Split split = stratified_split(d.train.labels, o.valid_fraction, o.seed);
    d.valid = d.train.subset(split.valid);
    d.train = d.train.subset(split.train);
    std::ostringstream s;
    s << "stratified " << o.valid_fraction * 100 << "% of " << o.train_path << " (seed " << o.seed << ")";
    d.valid_source = s.str();
  }
  if (!o.test_path.empty()) {
    d.test = read_dataset(o.test_path, ro);
    report_bad_rows(d.test);
  }
  return d;
}

}  // namespace qsenti
