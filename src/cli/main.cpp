// qsenti: fine-tune and serve Qwen3 sentiment classifiers.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/original_flags.h"
#include "cli/model_source.h"
#include "methods/model_resolver.h"
#include "util/error.h"
#include "util/runtime.h"

int main(int argc, char** argv) {
  qsenti::init_runtime();
  // The original scripts' flag spellings become ours before anything parses.
  std::vector<std::string> args{argv, argv + argc};
  args = qsenti::cli::translate_original_flags(args);
  std::vector<char*> translated;
  for (auto& a : args) translated.push_back(a.data());
  translated.push_back(nullptr);
  argv = translated.data();
  qsenti::cli::set_command_line(argc, argv);
  // A base model named by repo id (a peft adapter's recorded base) comes from
  // the Hub or ModelScope cache, downloaded when missing: the CLI's policy.
  qsenti::set_model_resolver([](const std::string& m) { return qsenti::cli::resolve_model_source(m, std::cerr); });
  CLI::App app{
      "qsenti " QSENTI_VERSION
      " - sentiment classifiers for Chinese social-media text on Qwen3,\n"
      "trained and served from C++ on a laptop CPU or one GPU."};
  app.require_subcommand(1);
  app.footer(
      "Start with `bash scripts/run_demo.sh` (the whole path on a small random model), then e.g.\n"
      "  qsenti train --method embedding --model-size 0.6B --train data/weibo2018/train.tsv\n"
      "  qsenti predict --method embedding --model-size 0.6B --text \"今天天气真好\"\n"
      "`qsenti <command> --help` explains each command. Exit codes: 0 success, 1 failure,\n"
      "2 bad command line, 3 bad input (data, model or run folder), 130 interrupted.\n"
      "The original Python scripts' spellings work too: " + qsenti::cli::original_flags_help() + ".");
  app.set_version_flag("--version", std::string(QSENTI_VERSION));
  qsenti::cli::add_info_command(app);
  qsenti::cli::add_init_command(app);
  qsenti::cli::add_forward_command(app);
  qsenti::cli::add_tokenize_command(app);
  qsenti::cli::add_train_command(app);
  qsenti::cli::add_predict_command(app);
  qsenti::cli::add_embed_command(app);
  qsenti::cli::add_eval_command(app);
  qsenti::cli::add_report_command(app);
  qsenti::cli::add_generate_command(app);
  qsenti::cli::add_export_command(app);
  qsenti::cli::add_serve_command(app);
  qsenti::cli::add_download_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(qsenti::ExitCode::kUsage);
  } catch (const qsenti::Error& e) {
    std::cerr << "qsenti: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const c10::Error& e) {
    std::cerr << "qsenti: error: " << e.what_without_backtrace() << "\n";
    return static_cast<int>(qsenti::ExitCode::kFailure);
  } catch (const std::exception& e) {
    std::cerr << "qsenti: error: " << e.what() << "\n";
    return static_cast<int>(qsenti::ExitCode::kFailure);
  }
  return 0;
}
