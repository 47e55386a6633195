#include "cli/original_flags.h"

namespace qsenti::cli {

const std::vector<std::pair<std::string, std::string>>& original_flag_aliases() {
  // The spellings its readme shows (--epochs and --text are spelled alike).
  static const std::vector<std::pair<std::string, std::string>> table{
      {"--model_size", "--model-size"},
      {"--model_type", "--method"},
      {"--load_all", "--load-all"},
      {"--batch_size", "--batch-size"},
  };
  return table;
}

std::vector<std::string> translate_original_flags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  bool rest = false;
  for (const auto& a : args) {
    if (rest || a.size() < 3 || a.compare(0, 2, "--") != 0) {
      out.push_back(a);
      if (a == "--") rest = true;
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    std::string replaced = a;
    for (const auto& [orig, ours] : original_flag_aliases())
      if (name == orig) replaced = ours + (eq == std::string::npos ? "" : a.substr(eq));
    out.push_back(replaced);
  }
  return out;
}

std::string original_flags_help() {
  std::string s;
  for (const auto& [orig, ours] : original_flag_aliases()) s += (s.empty() ? "" : ", ") + orig + " = " + ours;
  return s;
}

}  // namespace qsenti::cli
