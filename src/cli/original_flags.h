#pragma once
// The original Python scripts' spellings (666ghj/Weibo_PublicOpinion_AnalysisSystem,
// WeiboSentiment_SmallQwen: `--model_size 0.6B`, `--model_type embedding`,
// `--load_all`, `--batch_size 16`), accepted as aliases of qsenti's options
// so that a user coming from there types what they know. Rewritten before
// parsing, so each command takes them wherever the option has a meaning.
#include <string>
#include <utility>
#include <vector>

namespace qsenti::cli {

// {original, qsenti}: e.g. {"--model_type", "--method"}.
const std::vector<std::pair<std::string, std::string>>& original_flag_aliases();

// argv with every original spelling (also as --name=value) replaced; values
// and everything after a bare "--" are left alone.
std::vector<std::string> translate_original_flags(const std::vector<std::string>& args);

// One line for --help: "--model_size = --model-size, ...".
std::string original_flags_help();

}  // namespace qsenti::cli
