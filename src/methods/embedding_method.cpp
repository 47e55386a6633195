// Method stub: replaced by the method's implementation.
#include "methods/classifier.h"
#include "train/train_options.h"
#include "util/error.h"

namespace qsenti {

std::string train_embedding_method(const TrainOptions&) { throw Error("train --method embedding: not implemented yet"); }

std::unique_ptr<TextClassifier> load_embedding_classifier(const std::string&, const RunManifest&, const PredictOptions&) {
  throw Error("method embedding: prediction not implemented yet");
}

}  // namespace qsenti
