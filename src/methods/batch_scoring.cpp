#include "methods/batch_scoring.h"

#include <algorithm>

#include "methods/classifier.h"
#include "util/error.h"

namespace qsenti {

std::vector<double> predict_proba_flat(TextClassifier& clf, const std::vector<std::string>& texts, size_t chunk,
                                       const std::function<void(int64_t)>& done) {
  const int64_t K = static_cast<int64_t>(clf.labels().size());
  chunk = std::max<size_t>(chunk, 1);
  std::vector<double> flat;
  flat.reserve(texts.size() * static_cast<size_t>(K));
  for (size_t from = 0; from < texts.size(); from += chunk) {
    const size_t to = std::min(texts.size(), from + chunk);
    std::vector<std::string> part(texts.begin() + static_cast<std::ptrdiff_t>(from),
                                  texts.begin() + static_cast<std::ptrdiff_t>(to));
    torch::Tensor p = clf.predict_proba(part).to(torch::kFloat64).contiguous();
    if (p.dim() != 2 || p.size(0) != static_cast<int64_t>(part.size()) || p.size(1) != K)
      throw Error("the classifier returned probabilities of shape " + c10::str(p.sizes()) + ", expected [" +
                  std::to_string(part.size()) + ", " + std::to_string(K) + "]");
    flat.insert(flat.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    if (done) done(static_cast<int64_t>(part.size()));
  }
  return flat;
}

}  // namespace qsenti
