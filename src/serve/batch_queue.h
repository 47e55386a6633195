#pragma once
// Dynamic batching for one served run: a queue of inputs, a batcher that
// forms token-budget batches of similar lengths, and the one worker thread
// that owns the model (autocast and device state are per thread, and one
// forward at a time is what the cores can do anyway).
//
// Inputs arrive already tokenized (counted) by the HTTP threads. A batch
// starts with the oldest input (nothing starves) and takes the queued inputs
// nearest to it in length while its padded size (inputs x longest) stays
// within max_batch_tokens. While traffic flows (the last batch ended moments
// ago) a small batch waits up to batch_wait for company; a lone request on an
// idle worker runs at once.
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qsenti::serve {

class Metrics;

using Clock = std::chrono::steady_clock;

// One request's inputs: the HTTP thread waits on it while the worker fills it.
class Job {
 public:
  explicit Job(size_t inputs) : rows_(inputs) {}
  // Probabilities of input i (called by the worker).
  void fulfil(size_t i, torch::Tensor row, double queue_s, double inference_s);
  void fail(const std::string& message);
  // Blocks until every input is answered or the job failed; true when answered.
  // `client_gone`, asked every 20 ms while waiting, abandons the job when it
  // says so: cancelled (its queued inputs are dropped), wait() false.
  bool wait(const std::function<bool()>& client_gone = {});
  bool abandoned() const { return abandoned_; }
  void cancel() { cancelled_ = true; }  // its inputs are dropped from the queue
  bool cancelled() const { return cancelled_ || failed_; }
  const std::vector<torch::Tensor>& rows() const { return rows_; }
  const std::string& error() const { return error_; }
  double queue_seconds() const { return queue_s_; }          // longest wait of its inputs
  double inference_seconds() const { return inference_s_; }  // forwards it took part in

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<torch::Tensor> rows_;
  size_t done_ = 0;
  std::atomic<bool> cancelled_{false}, failed_{false}, abandoned_{false};
  std::string error_;
  double queue_s_ = 0, inference_s_ = 0;
};

struct QueuedInput {
  std::shared_ptr<Job> job;
  size_t index = 0;       // which of the job's inputs
  std::string text;       // as the classifier takes it (already truncated)
  int64_t tokens = 1;     // its length, for the token budget
  Clock::time_point enqueued;
};

struct BatchLimits {
  int64_t max_batch_tokens = 16384;
  int64_t max_batch_requests = 0;  // 0 = no limit beyond the tokens
  double batch_wait_ms = 1.0;
};

// Picks the next batch from `queue` (removing it): see the file comment.
// Cancelled inputs are dropped. Exposed for tests.
std::vector<QueuedInput> take_batch(std::deque<QueuedInput>& queue, const BatchLimits& limits);

class BatchQueue {
 public:
  // `predict` runs a batch of texts on the model: probabilities [n, labels].
  using PredictFn = std::function<torch::Tensor(const std::vector<std::string>&)>;
  BatchQueue(std::string name, PredictFn predict, BatchLimits limits, Metrics* metrics);
  ~BatchQueue();  // finishes what is queued, then joins the worker

  void submit(std::vector<QueuedInput> inputs);
  void drop_cancelled();  // removes cancelled jobs' inputs now (memory, te_queue_size)
  void stop();  // no new work; the worker drains the queue and exits
  size_t queue_size() const;

 private:
  void loop();
  std::string name_;
  PredictFn predict_;
  BatchLimits limits_;
  Metrics* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedInput> queue_;
  bool stopping_ = false;
  Clock::time_point last_batch_end_{};
  std::thread worker_;
};

}  // namespace qsenti::serve
