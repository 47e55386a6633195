// Method stub: replaced by the method's implementation.
#include "methods/classifier.h"
#include "train/train_options.h"
#include "util/error.h"

namespace qsenti {

std::string train_lora_method(const TrainOptions&) { throw Error("train --method lora: not implemented yet"); }

std::unique_ptr<TextClassifier> load_lora_classifier(const std::string&, const RunManifest&, const PredictOptions&) {
  throw Error("method lora: prediction not implemented yet");
}

}  // namespace qsenti
