#include "hub/workers.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace qsenti::hub {

void parallel_for(size_t n, int workers, const std::function<void(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mu;
  auto loop = [&] {
    for (size_t i; !failed && (i = next++) < n;) {
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
  };
  const size_t k = std::max<size_t>(1, std::min<size_t>(n, static_cast<size_t>(std::max(1, workers))));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < k; ++t) threads.emplace_back(loop);
  loop();
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

namespace {

ProgressOptions byte_progress_options(bool enabled, const std::string& label) {
  ProgressOptions o;
  o.label = label;
  o.unit = "kB";
  o.enabled = enabled;
  return o;
}

}  // namespace

ByteProgress::ByteProgress(int64_t total_bytes, bool enabled, const std::string& label)
    : progress_((total_bytes + 999) / 1000, byte_progress_options(enabled, label)) {}

void ByteProgress::add(int64_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  pending_ += bytes;
  const int64_t kb = pending_ / 1000;
  if (kb > 0) {
    pending_ -= kb * 1000;
    progress_.advance(kb);
  }
}

void ByteProgress::finish() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (pending_ > 0) progress_.advance(1);
    pending_ = 0;
  }
  progress_.finish();
}

}  // namespace qsenti::hub
