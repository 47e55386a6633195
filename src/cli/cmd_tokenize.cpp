// qsenti tokenize: one text a line on stdin, its token ids on stdout.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_source.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "util/error.h"

namespace qsenti::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer_file;
  std::string model_dir;
  bool json_lines = false;
  bool parse_special = false;
};

void run_tokenize(const TokenizeOptions& opt) {
  const auto tok = !opt.tokenizer_file.empty() ? Tokenizer::from_file(opt.tokenizer_file)
                                               : Tokenizer::for_model(opt.model_dir);
  const SpecialTokens mode = opt.parse_special ? SpecialTokens::kParse : SpecialTokens::kAsText;
  std::ios::sync_with_stdio(false);
  std::string line, text, out;
  std::vector<int32_t> ids;
  for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
    if (opt.json_lines) {
      nlohmann::json v;
      try {
        v = nlohmann::json::parse(sanitize_utf8(line));
      } catch (const nlohmann::json::exception& e) {
        throw InputError("stdin line " + std::to_string(line_no) +
                         ": not a JSON string literal: " + e.what());
      }
      if (!v.is_string())
        throw InputError("stdin line " + std::to_string(line_no) +
                         ": expected a JSON string literal, got " + v.type_name());
      text = v.get<std::string>();
    } else {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      text.swap(line);
    }
    ids.clear();
    tok->encode_into(text, mode, ids);
    out.clear();
    for (size_t k = 0; k < ids.size(); ++k) {
      if (k) out.push_back(' ');
      out += std::to_string(ids[k]);
    }
    out.push_back('\n');
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    // Flush whenever no more input is waiting, so that a program talking to
    // us line by line through pipes gets each answer at once.
    if (std::cin.rdbuf()->in_avail() <= 0) std::cout.flush();
  }
  std::cout.flush();
  if (!std::cout) throw Error("tokenize: cannot write to stdout");
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto opt = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand(
      "tokenize",
      "Print the Qwen3 token ids of each line of standard input, space separated,\n"
      "one line of ids per line of input (an empty text gives an empty line).");
  auto* file = cmd->add_option("--tokenizer", opt->tokenizer_file,
                               "Hugging Face tokenizer.json to use (default: the bundled "
                               "Qwen3 tokenizer)")
                   ->check(CLI::Validator(CLI::ExistingFile).description(""))
                   ->type_name("FILE");
  auto* model = cmd->add_option("--model", opt->model_dir,
                                "Model directory: its tokenizer.json, or the bundled one "
                                "when it has none; or a repo id (Qwen/Qwen3-0.6B, modelscope:Qwen/Qwen3-0.6B)")
                    ->check(CLI::Validator(
                        [](std::string& v) {
                          if (looks_like_repo_id(v)) return std::string();  // resolved when the command runs
                          return CLI::ExistingDirectory(v);
                        },
                        ""))
                    ->type_name("DIR");
  file->excludes(model);
  cmd->add_flag("--json-lines", opt->json_lines,
                "Each input line is a JSON string literal (e.g. \"a\\nb\"), so texts may "
                "hold newlines; otherwise a line is the text itself, less a trailing CR");
  cmd->add_flag("--parse-special", opt->parse_special,
                "Turn literal added tokens such as <|im_end|> into their single ids "
                "(default: encode them as ordinary text)");
  cmd->callback([opt] {
    if (!opt->model_dir.empty()) opt->model_dir = resolve_model_source(opt->model_dir, std::cerr);
    run_tokenize(*opt);
  });
}

}  // namespace qsenti::cli
