#pragma once
// The data of a training run, read the same way by every method: --train,
// --valid (or a stratified, seeded split of --train) and --test, all with the
// label set of --train.
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

}  // namespace qsenti
