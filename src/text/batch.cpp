#include "text/batch.h"

#include <algorithm>

namespace qsenti {

TokenBatch pad_batch(const std::vector<std::vector<int32_t>>& seqs, int32_t pad_id,
                     PadSide side) {
  const auto batch = static_cast<int64_t>(seqs.size());
  int64_t width = 0;
  TokenBatch out;
  out.lengths.reserve(seqs.size());
  for (const auto& s : seqs) {
    out.lengths.push_back(static_cast<int64_t>(s.size()));
    width = std::max(width, static_cast<int64_t>(s.size()));
  }
  out.input_ids = torch::full({batch, width}, static_cast<int64_t>(pad_id), torch::kInt64);
  out.attention_mask = torch::zeros({batch, width}, torch::kInt64);
  auto* ids = out.input_ids.data_ptr<int64_t>();
  auto* mask = out.attention_mask.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& s = seqs[static_cast<size_t>(b)];
    const int64_t len = static_cast<int64_t>(s.size());
    const int64_t start = side == PadSide::kLeft ? width - len : 0;
    int64_t* row = ids + b * width + start;
    int64_t* mrow = mask + b * width + start;
    for (int64_t t = 0; t < len; ++t) {
      row[t] = s[static_cast<size_t>(t)];
      mrow[t] = 1;
    }
  }
  return out;
}

std::vector<int32_t> truncate(const std::vector<int32_t>& ids, int64_t max_len, bool keep_end) {
  if (max_len < 0 || ids.size() <= static_cast<size_t>(max_len)) return ids;
  const auto n = static_cast<std::ptrdiff_t>(max_len);
  if (keep_end) return std::vector<int32_t>(ids.end() - n, ids.end());
  return std::vector<int32_t>(ids.begin(), ids.begin() + n);
}

}  // namespace qsenti
