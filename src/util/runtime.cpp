#include "util/runtime.h"

#include <malloc.h>
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
  // glibc raises its mmap threshold after large frees, after which the
  // per-layer activation buffers come from a heap that is never returned and
  // fragments; a fixed threshold keeps big tensors in mmap'd pages given back
  // on free (peak memory of a 0.6B forward drops by hundreds of MB).
  // QSENTI_MMAP_THRESHOLD overrides it (bytes; 0 keeps glibc's default).
  long threshold = 1 << 20;
  if (const char* env = std::getenv("QSENTI_MMAP_THRESHOLD")) threshold = std::atol(env);
  if (threshold > 0) mallopt(M_MMAP_THRESHOLD, static_cast<int>(threshold));
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
