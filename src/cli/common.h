#pragma once
// Small helpers shared by the subcommands.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace qsenti {
struct PredictOptions;
}

namespace qsenti::cli {

// --base and --label-words: for Hugging Face folders opened as runs
// (a peft adapter whose base is elsewhere, a CAUSAL_LM adapter's label words).
void add_hf_run_options(CLI::App* cmd, PredictOptions& options);

// --device auto|cpu|cuda|cuda:N, checked before anything loads.
void add_device_option(CLI::App* cmd, std::string& device);
// --dtype from `choices`; fp16 is refused with the reason (see common.cpp).
void add_dtype_option(CLI::App* cmd, std::string& dtype, const std::string& help);

torch::Dtype parse_dtype(const std::string& name);  // fp32 | bf16 (| fp16)
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);
std::string dtype_name(torch::Dtype dtype);
std::string human_bytes(uint64_t bytes);
std::string human_count(int64_t n);  // 596.0M, 4.02B

}  // namespace qsenti::cli
