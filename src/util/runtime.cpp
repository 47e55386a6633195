#include "util/runtime.h"

#include <sched.h>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#ifdef QSENTI_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace qsenti {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

void init_runtime(int threads) {
#ifdef QSENTI_HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  if (threads <= 0) {
    if (const char* env = std::getenv("QSENTI_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = available_cores();
  torch::set_num_threads(threads);
}

}  // namespace qsenti
