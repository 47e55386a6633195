#include "cli/commands.h"
#include "util/error.h"

namespace qsenti::cli {

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "(not yet implemented)");
  cmd->callback([] { throw Error("tokenize: not implemented yet"); });
}

}  // namespace qsenti::cli
