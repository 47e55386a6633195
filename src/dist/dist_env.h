#pragma once
// Where this process stands among the workers of one training job, read from
// torchrun's environment contract (RANK, LOCAL_RANK, WORLD_SIZE,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so that `qsenti train
// --nproc-per-node N` and `torchrun --no-python qsenti train` start the same
// workers.
#include <string>

namespace qsenti::dist {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_s = 600;  // rendezvous and each collective (QSENTI_DIST_TIMEOUT)

  bool distributed() const { return world_size > 1; }
  // From the environment; an InputError naming the variable when one is
  // malformed or inconsistent (RANK >= WORLD_SIZE, ...). WORLD_SIZE unset or 1
  // gives the single-process default.
  static DistEnv from_environment();
};

}  // namespace qsenti::dist
