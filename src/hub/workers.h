#pragma once
// What a download of many files shares: a few worker threads, and one
// progress line for all their bytes.
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "util/progress.h"

namespace qsenti::hub {

// Runs job(i) for i in [0, n) on up to `workers` threads; the first exception
// stops the handing out of new items and is rethrown once all threads end.
void parallel_for(size_t n, int workers, const std::function<void(size_t)>& job);

// Bytes counted into a progress line in kB (its counters are integers; a byte
// count in the millions reads badly). Safe to add to from several threads.
class ByteProgress {
 public:
  ByteProgress(int64_t total_bytes, bool enabled, const std::string& label);
  void add(int64_t bytes);
  void finish();

 private:
  std::mutex mu_;
  int64_t pending_ = 0;
  Progress progress_;
};

}  // namespace qsenti::hub
