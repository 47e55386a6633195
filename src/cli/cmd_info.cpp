#include "cli/commands.h"
#include "util/error.h"

namespace qsenti::cli {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "(not yet implemented)");
  cmd->callback([] { throw Error("info: not implemented yet"); });
}

}  // namespace qsenti::cli
