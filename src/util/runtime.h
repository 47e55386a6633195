#pragma once
// Process-wide set-up of the tensor engine: its threads, and the allocator
// while training.
namespace qsenti {

// Sets LibTorch's intra-op threads to `threads` (0 = all cores we may use) and
// pins OpenBLAS to one thread: its own pool and LibTorch's OpenMP pool
// oversubscribe the cores otherwise (measured ~2x slower training).
void init_runtime(int threads = 0);
int available_cores();

// While alive, large allocations come from the heap and freed memory stays in
// the process: a training step repeats the same big allocations (activations,
// gradients, optimizer temporaries), LibTorch's CPU allocator does not cache
// them, and with glibc's mmap'd chunks every step page-faults them in again
// (measured 8x slower on the tiny model in a VM). Trainer::run holds one;
// benchmarks and custom loops may too. Restores glibc's settings after.
// The default build links tcmalloc (CMakeLists.txt), which needs none of
// this: these glibc settings then have no effect.
class TrainingAllocatorScope {
 public:
  TrainingAllocatorScope();
  ~TrainingAllocatorScope();
  TrainingAllocatorScope(const TrainingAllocatorScope&) = delete;
  TrainingAllocatorScope& operator=(const TrainingAllocatorScope&) = delete;
};

}  // namespace qsenti
