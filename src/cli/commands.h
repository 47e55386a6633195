#pragma once
// Each subcommand lives in its own file (src/cli/cmd_<name>.cpp) and adds
// itself to the application here. A callback reports failure by throwing
// qsenti::Error; main() turns that into a message and an exit code.
#include <CLI/CLI.hpp>

namespace qsenti::cli {

void add_info_command(CLI::App& app);
void add_init_command(CLI::App& app);
void add_forward_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_download_command(CLI::App& app);

}  // namespace qsenti::cli
