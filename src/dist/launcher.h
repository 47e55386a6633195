#pragma once
// `qsenti train --nproc-per-node N`: this program started again as N local
// workers with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; OMP_NUM_THREADS = its share of
// the cores), watched until they end. Like torchrun, one worker failing
// stops the others (SIGTERM, then SIGKILL after a grace period), and Ctrl-C
// or SIGTERM to the launcher is passed to every worker.
#include <iosfwd>
#include <string>
#include <vector>

namespace qsenti::dist {

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;          // 0: a free local port (one node), else 29500
  double timeout_s = 600;       // passed on as QSENTI_DIST_TIMEOUT
};

// The flags the launcher reads, removed from a command line for the workers.
std::vector<std::string> launcher_flags();
std::vector<std::string> strip_launcher_flags(const std::vector<std::string>& args);

// Runs `exe args...` as the workers of this node; returns the exit code the
// launcher should end with (0 when all succeeded, else the first failure's).
int launch_workers(const LaunchOptions& o, const std::string& exe, const std::vector<std::string>& args,
                   std::ostream& log);

// A TCP port free on this host now (for the rendezvous of a one-node job).
int free_local_port();

}  // namespace qsenti::dist
