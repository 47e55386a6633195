#pragma once
// Small helpers shared by the subcommands.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace qsenti::cli {

torch::Dtype parse_dtype(const std::string& name);  // fp32 | bf16 (| fp16)
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);
std::string dtype_name(torch::Dtype dtype);
std::string human_bytes(uint64_t bytes);
std::string human_count(int64_t n);  // 596.0M, 4.02B

}  // namespace qsenti::cli
