#pragma once
// Process-wide set-up of the tensor engine's threads.
namespace qsenti {

// Sets LibTorch's intra-op threads to `threads` (0 = all cores we may use) and
// pins OpenBLAS to one thread: its own pool and LibTorch's OpenMP pool
// oversubscribe the cores otherwise (measured ~2x slower training).
void init_runtime(int threads = 0);
int available_cores();

}  // namespace qsenti
