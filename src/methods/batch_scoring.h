#pragma once
// A whole list of texts scored by a classifier in chunks, for eval and report.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qsenti {

class TextClassifier;

// Probabilities of `texts` in one row-major buffer [texts.size() x labels], in
// float64, scored `chunk` texts at a time so that `done` (progress: the texts
// of each chunk as it is scored) sees them arrive. Error on a wrong shape.
std::vector<double> predict_proba_flat(TextClassifier& clf, const std::vector<std::string>& texts, size_t chunk,
                                       const std::function<void(int64_t)>& done = {});

}  // namespace qsenti
