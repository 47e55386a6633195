// Method stub: replaced by the method's implementation.
#include "methods/classifier.h"
#include "train/train_options.h"
#include "util/error.h"

namespace qsenti {

std::string train_classifier_method(const TrainOptions&) { throw Error("train --method classifier: not implemented yet"); }

std::unique_ptr<TextClassifier> load_seqcls_classifier(const std::string&, const RunManifest&, const PredictOptions&) {
  throw Error("method classifier: prediction not implemented yet");
}

}  // namespace qsenti
