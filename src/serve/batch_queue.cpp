#include "serve/batch_queue.h"

#include <algorithm>
#include <c10/util/Exception.h>
#include <cstdlib>

#include "serve/metrics.h"

namespace qsenti::serve {

void Job::fulfil(size_t i, torch::Tensor row, double queue_s, double inference_s) {
  std::lock_guard<std::mutex> lock(mu_);
  rows_[i] = std::move(row);
  queue_s_ = std::max(queue_s_, queue_s);
  inference_s_ = std::max(inference_s_, inference_s);  // its inputs may share one forward
  if (++done_ == rows_.size()) cv_.notify_all();
}

void Job::fail(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_) return;
  error_ = message;
  failed_ = true;
  cv_.notify_all();
}

bool Job::wait(const std::function<bool()>& client_gone) {
  std::unique_lock<std::mutex> lock(mu_);
  auto finished = [&] { return failed_ || done_ == rows_.size(); };
  if (!client_gone) {
    cv_.wait(lock, finished);
    return !failed_;
  }
  while (!cv_.wait_for(lock, std::chrono::milliseconds(20), finished)) {
    lock.unlock();
    const bool gone = client_gone();
    lock.lock();
    if (gone && !finished()) {
      abandoned_ = true;
      cancel();
      return false;
    }
  }
  return !failed_;
}

std::vector<QueuedInput> take_batch(std::deque<QueuedInput>& queue, const BatchLimits& limits) {
  while (!queue.empty() && queue.front().job->cancelled()) queue.pop_front();
  std::vector<QueuedInput> batch;
  if (queue.empty()) return batch;
  const int64_t seed_len = queue.front().tokens;
  // Queue positions by closeness in length to the oldest input (stable: older first on ties).
  std::vector<size_t> order(queue.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin() + 1, order.end(), [&](size_t a, size_t b) {
    return std::llabs(queue[a].tokens - seed_len) < std::llabs(queue[b].tokens - seed_len);
  });
  std::vector<bool> taken(queue.size(), false);
  int64_t longest = 0;
  for (size_t pos : order) {
    const QueuedInput& in = queue[pos];
    if (in.job->cancelled()) {
      taken[pos] = true;  // dropped
      continue;
    }
    const int64_t n = static_cast<int64_t>(batch.size()) + 1;
    const int64_t l = std::max(longest, in.tokens);
    // The first input always goes, even alone over the budget (it was admitted).
    if (!batch.empty() && (n * l > limits.max_batch_tokens ||
                           (limits.max_batch_requests > 0 && n > limits.max_batch_requests)))
      continue;
    longest = l;
    batch.push_back(in);
    taken[pos] = true;
  }
  std::deque<QueuedInput> rest;
  for (size_t i = 0; i < queue.size(); ++i)
    if (!taken[i]) rest.push_back(std::move(queue[i]));
  queue.swap(rest);
  return batch;
}

BatchQueue::BatchQueue(std::string name, PredictFn predict, BatchLimits limits, Metrics* metrics)
    : name_(std::move(name)), predict_(std::move(predict)), limits_(limits), metrics_(metrics) {
  worker_ = std::thread([this] { loop(); });
}

BatchQueue::~BatchQueue() {
  stop();
  if (worker_.joinable()) worker_.join();
}

void BatchQueue::submit(std::vector<QueuedInput> inputs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& in : inputs) queue_.push_back(std::move(in));
    if (metrics_) metrics_->set("te_queue_size", static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
}

void BatchQueue::drop_cancelled() {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [](const QueuedInput& in) { return in.job->cancelled(); }),
               queue_.end());
  if (metrics_) metrics_->set("te_queue_size", static_cast<double>(queue_.size()));
}

void BatchQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

size_t BatchQueue::queue_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BatchQueue::loop() {
  const auto wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(limits_.batch_wait_ms));
  for (;;) {
    std::vector<QueuedInput> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Traffic is flowing: give a small batch a moment to fill up.
      const bool busy = Clock::now() - last_batch_end_ < std::chrono::milliseconds(50);
      if (busy && !stopping_ && wait.count() > 0) {
        const auto until = Clock::now() + wait;
        cv_.wait_until(lock, until, [&] {
          int64_t tokens = 0;
          for (const auto& in : queue_) tokens += in.tokens;
          return stopping_ || tokens >= limits_.max_batch_tokens / 2 ||
                 (limits_.max_batch_requests > 0 && static_cast<int64_t>(queue_.size()) >= limits_.max_batch_requests);
        });
      }
      batch = take_batch(queue_, limits_);
      if (metrics_) {
        int64_t next_tokens = 0;
        for (const auto& in : queue_) next_tokens += in.tokens;
        metrics_->set("te_queue_size", static_cast<double>(queue_.size()));
        metrics_->set("te_batch_next_size", static_cast<double>(queue_.size()));
        metrics_->set("te_batch_next_tokens", static_cast<double>(next_tokens));
      }
    }
    if (batch.empty()) continue;
    std::vector<std::string> texts;
    texts.reserve(batch.size());
    int64_t longest = 0;
    for (const auto& in : batch) {
      texts.push_back(in.text);
      longest = std::max(longest, in.tokens);
    }
    const auto start = Clock::now();
    torch::Tensor probs;
    std::string error;
    try {
      probs = predict_(texts);
      if (probs.dim() != 2 || probs.size(0) != static_cast<int64_t>(texts.size()))
        error = "the model returned " + std::to_string(probs.dim() ? probs.size(0) : 0) + " rows for " +
                std::to_string(texts.size()) + " texts";
    } catch (const c10::Error& e) {
      error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      error = e.what();
    }
    const auto end = Clock::now();
    const double inference_s = std::chrono::duration<double>(end - start).count();
    if (metrics_) {
      metrics_->observe("te_batch_size", static_cast<double>(batch.size()));
      metrics_->observe("te_batch_tokens", static_cast<double>(longest * static_cast<int64_t>(batch.size())));
      metrics_->observe("te_inference_duration", inference_s);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      QueuedInput& in = batch[i];
      if (!error.empty()) {
        in.job->fail(error);
        continue;
      }
      const double queue_s = std::chrono::duration<double>(start - in.enqueued).count();
      if (metrics_) metrics_->observe("te_queue_duration", queue_s);
      in.job->fulfil(in.index, probs[static_cast<int64_t>(i)].clone(), queue_s, inference_s);
    }
    std::lock_guard<std::mutex> lock(mu_);
    last_batch_end_ = Clock::now();
  }
}

}  // namespace qsenti::serve
