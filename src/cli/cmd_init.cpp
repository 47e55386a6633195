#include "cli/commands.h"
#include "util/error.h"

namespace qsenti::cli {

void add_init_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("init", "(not yet implemented)");
  cmd->callback([] { throw Error("init: not implemented yet"); });
}

}  // namespace qsenti::cli
