#pragma once
// Turning lists of token ids into padded tensors for the model.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace qsenti {

enum class PadSide {
  kLeft,   // padding first, text last: for generation and last-token pooling
  kRight,  // text first, padding last
};

struct TokenBatch {
  torch::Tensor input_ids;       // int64 [B, T], T = the longest sequence
  torch::Tensor attention_mask;  // int64 [B, T], 1 on tokens, 0 on padding
  std::vector<int64_t> lengths;  // real length of each row
};

// Pads `seqs` with `pad_id` to the longest one. An empty list gives [0, 0]
// tensors; all-empty sequences give [B, 0].
TokenBatch pad_batch(const std::vector<std::vector<int32_t>>& seqs, int32_t pad_id,
                     PadSide side);

// The first max_len ids (or, with keep_end, the last max_len). A negative
// max_len means no limit.
std::vector<int32_t> truncate(const std::vector<int32_t>& ids, int64_t max_len,
                              bool keep_end = false);

}  // namespace qsenti
