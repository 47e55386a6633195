#pragma once
// The training loop shared by the fine-tuning methods (B: LoRA instruction
// tuning, C: classification head). A method describes its task through
// TrainingTask; the Trainer owns everything generic: AdamW, the learning-rate
// schedule, gradient accumulation and clipping, bf16 autocast, seeded
// length-grouped batches, validation and the best weights, atomic
// checkpoints and exact resume, Ctrl-C, NaN detection, the progress line and
// history.jsonl.
//
// Run folder layout written by the Trainer:
//   history.jsonl             one JSON object a line: {"type":"train", step,
//                             epoch, loss, lr, tokens_per_s, elapsed_s} and
//                             {"type":"valid", step, epoch, metrics}
//   checkpoints/latest, checkpoints/step-N/   (see checkpoint.h)
//   best/trainable.safetensors  the trainable parameters of the best validation
// The method writes its own artifacts (adapter, model folder, manifest.json)
// after run() returns, typically after restore_best().
#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace qsenti::dist {
class ProcessGroup;
class GradientSync;
}

namespace qsenti {

struct TrainOptions;

struct TrainableParameter {
  std::string name;       // stable across runs: checkpoints are keyed by it
  torch::Tensor tensor;   // requires_grad; updated in place
  bool weight_decay = true;  // false for norms, biases (and whatever else the method says)
};

struct BatchLoss {
  torch::Tensor loss;      // scalar: the mean loss of the micro-batch (the trainer backpropagates it)
  int64_t tokens = 0;      // real (unpadded) tokens processed, for tokens/s
};

// What a method supplies. The trainer calls these on one thread.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  // The parameters to optimise, in a fixed order. Called once per Trainer.
  virtual std::vector<TrainableParameter> trainable_parameters() = 0;
  // One length (tokens) per training example: drives length grouping; the
  // examples are then referred to by their index in this vector.
  virtual std::vector<int64_t> train_lengths() = 0;
  // Forward pass on the training examples `indices` (train mode, grad on;
  // autocast is already set by the trainer when enabled).
  virtual BatchLoss loss(const std::vector<size_t>& indices) = 0;
  // Whether there is a validation set at all.
  virtual bool has_validation() const = 0;
  // Evaluates the validation set (the task switches to eval mode and no-grad
  // itself, and back to train mode before returning).
  virtual Metrics validate() = 0;

  // What the loss of loss(indices) is a mean over (examples by default;
  // answer tokens for method B). With several processes each rank's loss is
  // weighted by its share, so that the summed gradient is the one process
  // would compute on the whole batch.
  virtual double loss_weight(const std::vector<size_t>& indices) { return static_cast<double>(indices.size()); }
  // Sharded validation with several processes: validation_size() examples,
  // the class probabilities [end - begin, labels] of examples [begin, end),
  // and the metrics of all of them. 0 (the default): every rank runs validate().
  virtual int64_t validation_size() const { return 0; }
  virtual torch::Tensor validation_probabilities(int64_t begin, int64_t end);
  virtual Metrics validation_metrics(const torch::Tensor& probabilities);
};

// The metrics of class probabilities [n, K] (any dtype, any device) against
// `labels`: what every method's validation and test scores are made of.
Metrics metrics_of_probabilities(const std::vector<int64_t>& labels, const torch::Tensor& probabilities,
                                 const std::vector<std::string>& class_names);

struct TrainerConfig {
  std::string run_dir;          // created if missing
  int64_t epochs = 1;
  int64_t batch_size = 16;      // examples per micro-batch
  int64_t grad_accum = 1;       // micro-batches per optimizer step
  double lr = 1e-4;
  double weight_decay = 0.01;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  std::string schedule = "cosine";  // cosine | linear | constant
  double warmup_ratio = 0.06;
  double max_grad_norm = 1.0;   // 0 = no clipping
  bool bf16_autocast = false;   // autocast around loss() and validate(), on `device`
  torch::Device device = torch::kCPU;  // the model's: its autocast and its generator
  uint64_t seed = 42;           // batch order (dropout RNG is seeded by the method)
  int64_t length_pool_batches = 64;  // see text/length_batching.h; 1 = plain shuffling
  int64_t eval_every = 0;       // steps; 0 = at the end of each epoch only
  int64_t save_every = 0;       // steps; 0 = at each validation (and end of epoch)
  int64_t save_total_limit = 1; // checkpoints kept (the newest); each holds the optimizer state
  int64_t patience = 0;         // early stopping: after this many validations without a better score
  int64_t max_steps = 0;        // stop after this many optimizer steps (0 = all epochs);
                                // the schedule still spans max_steps when set
  std::string select_metric = "accuracy";  // accuracy | macro_f1 | balanced_accuracy
  bool resume = false;          // continue from run_dir's latest checkpoint
  bool quiet = false;
  std::string label = "train";  // progress line prefix
  bool handle_sigint = true;    // handle SIGINT and SIGTERM (util/interrupt.h) while run() runs
  // Testing: behave as if Ctrl-C arrived right after this optimizer step (0 = never).
  int64_t interrupt_after_step = 0;

  // The generic part of `qsenti train`'s options (lr/batch/epochs must be
  // resolved by the method first: zero values are taken as given).
  static TrainerConfig from_options(const TrainOptions& options, const std::string& run_dir);
  nlohmann::json to_json() const;
};

struct TrainResult {
  enum class Status { kCompleted, kMaxSteps, kEarlyStopped } status = Status::kCompleted;
  int64_t steps = 0;             // optimizer steps done (including those before a resume)
  int64_t epochs_completed = 0;
  nlohmann::json best_metrics;   // to_json(Metrics) of the best validation; null without validation
  double best_score = 0;         // its select_metric
  int64_t best_step = 0;
  nlohmann::json last_metrics;   // the last validation's, null when none ran
  double train_seconds = 0;      // this process's share
  double tokens_per_second = 0;  // this process's average (all workers' tokens with several)
  int world_size = 1;            // worker processes
  int64_t allreduce_bytes_per_step = 0;  // gradients summed over the workers each step (fp32)
  double allreduce_ms_per_step = 0;      // time a step waited for that sum, on average
  double step_ms = 0;                    // a whole optimizer step, on average
  nlohmann::json to_json() const;
};

class Trainer {
 public:
  Trainer(TrainingTask& task, TrainerConfig config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains to the end (or max_steps). On Ctrl-C (or interrupt_after_step)
  // writes a checkpoint and throws Error(ExitCode::kInterrupted) naming the
  // --resume command. A non-finite loss throws Error naming the step and
  // writes nothing, so the last good checkpoint stays the latest.
  TrainResult run();

  // Loads the best validation weights into the trainable parameters (no-op
  // without validation: the last weights are kept). Returns false when none.
  bool restore_best();

  int64_t total_steps() const;
  int64_t steps_per_epoch() const;
  double lr_at(int64_t step) const;
  const TrainerConfig& config() const { return config_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  TrainerConfig config_;
};

}  // namespace qsenti
