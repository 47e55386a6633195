#include "util/runtime.h"

#include <malloc.h>
#include <sched.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <limits>
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
  // Only for builds without tcmalloc (see CMakeLists.txt): QSENTI_MMAP_THRESHOLD
  // (bytes) fixes glibc's mmap threshold. 1048576 lowers the peak memory of a
  // bf16 0.6B forward (1.37x -> 1.21x the weight bytes) but makes every large
  // buffer a fresh mmap with page faults (5x slower forward, 8x slower
  // training), so glibc's default stays the default.
  long threshold = 0;
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

namespace {
std::atomic<int> g_allocator_scopes{0};
}

TrainingAllocatorScope::TrainingAllocatorScope() {
  if (g_allocator_scopes.fetch_add(1) > 0) return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

TrainingAllocatorScope::~TrainingAllocatorScope() {
  if (g_allocator_scopes.fetch_sub(1) > 1) return;
  mallopt(M_MMAP_MAX, 65536);                 // glibc's default
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);      // glibc's default
  malloc_trim(0);
}

}  // namespace qsenti
