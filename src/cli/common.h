#pragma once
// Small helpers shared by the subcommands.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace qsenti {
struct PredictOptions;
}

namespace qsenti::cli {

// The program's own command line, kept by main() for commands that start
// this program again (train --nproc-per-node).
void set_command_line(int argc, char** argv);
const std::vector<std::string>& command_line_args();  // without argv[0]

// --base and --label-words: for Hugging Face folders opened as runs
// (a peft adapter whose base is elsewhere, a CAUSAL_LM adapter's label words).
void add_hf_run_options(CLI::App* cmd, PredictOptions& options);

// --text-column and --label-column: a header name, a 0-based index, or (JSON
// lines) a key; common to all methods, train, eval and predict.
void add_column_options(CLI::App* cmd, std::string& text_column, std::string& label_column);

// --device auto|cpu|cuda|cuda:N, checked before anything loads.
void add_device_option(CLI::App* cmd, std::string& device);
// --dtype from `choices`; fp16 is refused with the reason (see common.cpp).
void add_dtype_option(CLI::App* cmd, std::string& dtype, const std::string& help);

// Checks for numeric options (CLI11's PositiveNumber / NonNegativeNumber cover
// the rest): a value outside them is exit 2 before anything loads, never
// silently replaced by a default.
// x > 0 and x >= 0, with a message that says so (CLI11's own prints DBL_MAX).
std::function<std::string(const std::string&)> positive();
std::function<std::string(const std::string&)> non_negative();
// 0 < x < 1: --valid-fraction.
std::function<std::string(const std::string&)> open_fraction();
// 0 <= x < 1: dropout rates.
std::function<std::string(const std::string&)> dropout_rate();
// 0 <= x <= 1: --warmup-ratio.
std::function<std::string(const std::string&)> closed_fraction();

// --out of train and init: an existing run or model there is refused (exit 2)
// unless `overwrite`, and then removed first so no file of it lingers. A
// non-empty folder that holds neither is never removed.
void refuse_existing_output(const std::string& out, bool overwrite, const std::string& what);

torch::Dtype parse_dtype(const std::string& name);  // fp32 | bf16 (| fp16)
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);
std::string dtype_name(torch::Dtype dtype);
std::string human_bytes(uint64_t bytes);
std::string human_count(int64_t n);  // 596.0M, 4.02B

}  // namespace qsenti::cli
