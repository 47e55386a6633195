#include "cli/commands.h"
#include "util/error.h"

namespace qsenti::cli {

void add_forward_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("forward", "(not yet implemented)");
  cmd->callback([] { throw Error("forward: not implemented yet"); });
}

}  // namespace qsenti::cli
