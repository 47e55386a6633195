#pragma once
// The data of a training run, read the same way by every method: --train,
// --valid (or a stratified, seeded split of --train) and --test, all with the
// label set of --train.
#include <cstdint>
#include <string>

#include "io/dataset.h"
#include "train/train_options.h"

namespace qsenti {

struct TrainingData {
  Dataset train, valid, test;  // test is empty without --test
  std::string valid_source;    // where validation came from, for messages
  const LabelSet& labels() const { return train.label_set; }
};

// Reads the files of `o`. Rows that --skip-bad-rows lets through are reported
// on stderr; fewer than two labels with examples in --train is an InputError
// naming the file.
TrainingData load_training_data(const TrainOptions& o);

// Texts per split that the method cut to --max-length tokens, each method
// counting as it tokenises.
struct TruncationCounts {
  int64_t train = 0, valid = 0, test = 0;
  int64_t max_length = 0;
};
// "; 3 train, 1 valid texts longer than 256 tokens were truncated (--max-length)",
// or "" when none was.
std::string describe_truncation(const TruncationCounts& t);
// For the manifest's metrics: {"train": 3, "valid": 1, "test": 0, "max_length": 256}.
nlohmann::json to_json(const TruncationCounts& t);

}  // namespace qsenti
