#include "train/trainer.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include "device/device.h"
#include "train/batching.h"
#include "train/checkpoint.h"
#include "train/schedule.h"
#include "train/train_options.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/progress.h"
#include "util/torch_compat.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

double metric_of(const Metrics& m, const std::string& name) {
  if (name == "accuracy") return m.accuracy;
  if (name == "macro_f1") return m.macro_f1;
  if (name == "balanced_accuracy") return m.balanced_accuracy;
  throw Error("unknown selection metric '" + name + "' (expected accuracy, macro_f1 or balanced_accuracy)");
}

std::string fmt(double v, int precision = 4) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

}  // namespace

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

TrainerConfig TrainerConfig::from_options(const TrainOptions& o, const std::string& run_dir) {
  TrainerConfig c;
  c.run_dir = run_dir;
  c.epochs = o.epochs;
  c.batch_size = o.batch_size;
  c.grad_accum = std::max<int64_t>(1, o.grad_accum);
  c.lr = o.lr;
  c.weight_decay = o.weight_decay;
  c.schedule = o.schedule;
  c.warmup_ratio = o.warmup_ratio;
  c.max_grad_norm = o.max_grad_norm;
  c.bf16_autocast = o.dtype == "bf16";
  c.device = resolve_device(o.device);
  c.seed = o.seed;
  c.eval_every = o.eval_every;
  c.save_every = o.save_every;
  c.save_total_limit = std::max<int64_t>(1, o.save_total_limit);
  c.max_steps = o.max_steps;
  c.resume = !o.resume.empty();
  c.quiet = o.quiet;
  // Testing hook for whole-method interruption tests (tests/test_classifier_method.cpp).
  if (const char* s = std::getenv("QSENTI_TEST_INTERRUPT_AFTER_STEP")) c.interrupt_after_step = std::atoll(s);
  return c;
}

nlohmann::json TrainerConfig::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"grad_accum", grad_accum},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"adam_betas", {adam_beta1, adam_beta2}},
          {"adam_eps", adam_eps},
          {"schedule", schedule},
          {"warmup_ratio", warmup_ratio},
          {"max_grad_norm", max_grad_norm},
          {"bf16_autocast", bf16_autocast},
          {"seed", seed},
          {"length_pool_batches", length_pool_batches},
          {"eval_every", eval_every},
          {"save_every", save_every},
          {"save_total_limit", save_total_limit},
          {"max_steps", max_steps},
          {"select_metric", select_metric}};
}

nlohmann::json TrainResult::to_json() const {
  return {{"status", status == Status::kCompleted ? "completed" : "max_steps"},
          {"steps", steps},
          {"epochs_completed", epochs_completed},
          {"best_step", best_step},
          {"best_score", best_score},
          {"train_seconds", train_seconds},
          {"tokens_per_second", tokens_per_second}};
}

struct Trainer::Impl {
  TrainingTask& task;
  TrainerConfig cfg;
  std::vector<TrainableParameter> params;
  std::vector<NamedTensor> named;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::vector<int64_t> lengths;
  int64_t batches_per_epoch = 0;
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  LrSchedule schedule;

  // Position: the next optimizer step, and where it starts in the data.
  int64_t step = 0, epoch = 0, batch_pos = 0;
  // Validation.
  bool have_best = false;
  double best_score = 0;
  int64_t best_step = 0;
  nlohmann::json best_metrics, last_metrics;
  int64_t last_eval_step = -1;

  Impl(TrainingTask& t, TrainerConfig c) : task(t), cfg(std::move(c)) {}

  std::string best_path() const { return (fs::path(cfg.run_dir) / "best" / "trainable.safetensors").string(); }
  std::string history_path() const { return (fs::path(cfg.run_dir) / "history.jsonl").string(); }

  void append_history(const nlohmann::json& j) {
    std::ofstream out(history_path(), std::ios::app);
    out << j.dump() << "\n";
  }

  // Drops history lines written after the checkpoint we resume from.
  void trim_history(int64_t upto_step) {
    std::ifstream in(history_path());
    if (!in) return;
    std::string line, kept;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        auto j = nlohmann::json::parse(line);
        if (j.value("step", int64_t{0}) > upto_step) continue;
      } catch (const std::exception&) {
        continue;  // a line cut by a crash
      }
      kept += line + "\n";
    }
    write_text_atomically(history_path(), kept);
  }

  nlohmann::json state_json() const {
    nlohmann::json s = {{"step", step},
                        {"epoch", epoch},
                        {"batch_pos", batch_pos},
                        {"have_best", have_best},
                        {"best_score", best_score},
                        {"best_step", best_step},
                        {"best_metrics", best_metrics},
                        {"last_metrics", last_metrics},
                        {"last_eval_step", last_eval_step},
                        {"num_examples", lengths.size()},
                        {"config", cfg.to_json()},
                        {"rng", cpu_rng_state()}};
    // Dropout on a GPU draws from its generator: saved too, for an exact resume.
    if (!cfg.device.is_cpu()) s["device_rng"] = rng_state(cfg.device);
    return s;
  }

  std::string checkpoint() { return write_checkpoint(cfg.run_dir, step, named, *optimizer, state_json(), cfg.save_total_limit);
  }

  void resume_from_checkpoint() {
    auto dir = latest_checkpoint(cfg.run_dir);
    if (!dir) throw InputError(cfg.run_dir + ": no checkpoint to resume from (checkpoints/latest is missing)");
    nlohmann::json s = read_checkpoint(*dir, named, *optimizer);
    const auto& saved = s.at("config");
    auto must_match = [&](const char* key, const nlohmann::json& now) {
      if (saved.at(key) != now)
        throw InputError(*dir + "/state.json: the run was trained with " + key + " = " + saved.at(key).dump() +
                         ", this command has " + now.dump() + "; resume with the same settings");
    };
    must_match("batch_size", cfg.batch_size);
    must_match("grad_accum", cfg.grad_accum);
    must_match("seed", cfg.seed);
    must_match("length_pool_batches", cfg.length_pool_batches);
    if (s.at("num_examples").get<size_t>() != lengths.size())
      throw InputError(*dir + "/state.json: the run had " + s.at("num_examples").dump() +
                       " training examples, the data now gives " + std::to_string(lengths.size()));
    step = s.at("step");
    epoch = s.at("epoch");
    batch_pos = s.at("batch_pos");
    have_best = s.at("have_best");
    best_score = s.at("best_score");
    best_step = s.at("best_step");
    best_metrics = s.at("best_metrics");
    last_metrics = s.at("last_metrics");
    last_eval_step = s.at("last_eval_step");
    set_cpu_rng_state(s.at("rng"));
    if (!cfg.device.is_cpu() && s.contains("device_rng")) set_rng_state(cfg.device, s.at("device_rng"));
    trim_history(step);
    if (!cfg.quiet) std::cerr << "resuming " << cfg.run_dir << " at step " << step << " (epoch " << epoch + 1 << ")\n";
  }

  void set_lr(double lr) {
    for (auto& g : optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  }

  void validate() {
    if (!task.has_validation() || last_eval_step == step) return;
    Metrics m;
    {
      compat::Autocast autocast(cfg.device.type(), cfg.bf16_autocast);
      m = task.validate();
    }
    const double score = metric_of(m, cfg.select_metric);
    last_metrics = to_json(m);
    last_eval_step = step;
    append_history({{"type", "valid"}, {"step", step}, {"epoch", epoch + 1}, {"metrics", last_metrics}});
    const bool improved = !have_best || score > best_score;
    if (improved) {
      have_best = true;
      best_score = score;
      best_step = step;
      best_metrics = last_metrics;
      fs::create_directories(fs::path(cfg.run_dir) / "best");
      save_named_tensors(best_path(), named);
    }
    if (!cfg.quiet)
      std::cerr << "validation at step " << step << ": accuracy " << fmt(m.accuracy) << ", macro F1 "
                << fmt(m.macro_f1) << ", balanced accuracy " << fmt(m.balanced_accuracy)
                << (improved ? " (best so far)" : "  (best " + fmt(best_score) + " at step " + std::to_string(best_step) + ")")
                << "\n";
  }
};

Trainer::Trainer(TrainingTask& task, TrainerConfig config) : impl_(std::make_unique<Impl>(task, config)), config_(config) {
  auto& I = *impl_;
  if (config_.run_dir.empty()) throw Error("trainer: no run folder");
  if (config_.batch_size <= 0 || config_.epochs <= 0 || config_.lr <= 0 || config_.grad_accum <= 0)
    throw Error("trainer: batch size, epochs, learning rate and gradient accumulation must be positive");
  fs::create_directories(config_.run_dir);
  I.params = task.trainable_parameters();
  if (I.params.empty()) throw Error("trainer: the method has no trainable parameters");
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : I.params) {
    if (!p.tensor.requires_grad()) throw Error("trainer: parameter '" + p.name + "' does not require grad");
    I.named.push_back({p.name, p.tensor});
    (p.weight_decay ? decay : no_decay).push_back(p.tensor);
  }
  auto opts = [&](double wd) {
    return torch::optim::AdamWOptions(config_.lr)
        .betas({config_.adam_beta1, config_.adam_beta2})
        .eps(config_.adam_eps)
        .weight_decay(wd);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(opts(config_.weight_decay)));
  if (!no_decay.empty()) groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(opts(0.0)));
  I.optimizer = std::make_unique<torch::optim::AdamW>(groups, opts(config_.weight_decay));

  I.lengths = task.train_lengths();
  if (I.lengths.empty()) throw Error("trainer: no training examples");
  const int64_t n = static_cast<int64_t>(I.lengths.size());
  I.batches_per_epoch = (n + config_.batch_size - 1) / config_.batch_size;
  I.steps_per_epoch = (I.batches_per_epoch + config_.grad_accum - 1) / config_.grad_accum;
  I.total_steps = config_.max_steps > 0 ? config_.max_steps : I.steps_per_epoch * config_.epochs;
  I.schedule.kind = config_.schedule;
  I.schedule.peak_lr = config_.lr;
  I.schedule.total_steps = I.total_steps;
  I.schedule.warmup_steps = warmup_steps_for(config_.warmup_ratio, I.total_steps);
  I.schedule.lr_at(0);  // validates the kind
  (void)metric_of(Metrics{}, config_.select_metric);
}

Trainer::~Trainer() = default;

int64_t Trainer::total_steps() const { return impl_->total_steps; }
int64_t Trainer::steps_per_epoch() const { return impl_->steps_per_epoch; }
double Trainer::lr_at(int64_t step) const { return impl_->schedule.lr_at(step); }

bool Trainer::restore_best() {
  auto& I = *impl_;
  if (!I.have_best || !fs::exists(I.best_path())) return false;
  load_named_tensors(I.best_path(), I.named);
  return true;
}

TrainResult Trainer::run() {
  auto& I = *impl_;
  const auto& cfg = config_;
  InterruptScope interrupt_scope(cfg.handle_sigint);  // SIGINT and SIGTERM
  TrainingAllocatorScope allocator;
  if (cfg.resume) I.resume_from_checkpoint();
  else if (!cfg.resume) {
    std::error_code ec;
    fs::remove(I.history_path(), ec);
  }

  BatchingOptions bopt;
  bopt.batch_size = cfg.batch_size;
  bopt.seed = cfg.seed;
  bopt.pool_batches = cfg.length_pool_batches;

  const double t0 = now_s();
  double last_print = t0;
  const bool terminal = ::isatty(STDERR_FILENO);
  int64_t tokens_done = 0, steps_done_here = 0;
  const int64_t log_every = std::max<int64_t>(1, I.steps_per_epoch / 50);
  // Two windows: the progress line's (reset when it prints, which depends on
  // the terminal) and history.jsonl's (reset at each record), so the history
  // is the same whether or not anyone watches.
  double loss_sum_window = 0, loss_sum_history = 0;
  int64_t loss_n_window = 0, loss_n_history = 0;

  TrainResult result;
  auto finish = [&](TrainResult::Status status) {
    result.status = status;
    result.steps = I.step;
    result.epochs_completed = I.epoch;
    result.best_metrics = I.have_best ? I.best_metrics : nlohmann::json();
    result.best_score = I.best_score;
    result.best_step = I.best_step;
    result.last_metrics = I.last_metrics;
    result.train_seconds = now_s() - t0;
    result.tokens_per_second = result.train_seconds > 0 ? tokens_done / result.train_seconds : 0;
    if (!cfg.quiet && terminal) std::cerr << "\n";
    return result;
  };

  auto interrupted = [&]() {
    return interrupt_requested() || (cfg.interrupt_after_step > 0 && I.step == cfg.interrupt_after_step);
  };

  while (I.epoch < cfg.epochs) {
    const auto batches = length_grouped_batches(I.lengths, I.epoch, bopt);
    const int64_t nb = static_cast<int64_t>(batches.size());
    while (I.batch_pos < nb) {
      if (cfg.max_steps > 0 && I.step >= cfg.max_steps) {
        I.validate();
        I.checkpoint();
        return finish(TrainResult::Status::kMaxSteps);
      }
      const int64_t n_micro = std::min(cfg.grad_accum, nb - I.batch_pos);
      const double lr = I.schedule.lr_at(I.step);
      I.set_lr(lr);
      I.optimizer->zero_grad();
      double step_loss = 0;
      for (int64_t k = 0; k < n_micro; ++k) {
        BatchLoss bl;
        {
          compat::Autocast autocast(cfg.device.type(), cfg.bf16_autocast);
          bl = I.task.loss(batches[static_cast<size_t>(I.batch_pos + k)]);
        }
        const double v = bl.loss.item<double>();
        if (!std::isfinite(v)) {
          auto last = latest_checkpoint(cfg.run_dir);
          throw Error("training stopped: the loss is " + fmt(v) + " at step " + std::to_string(I.step + 1) +
                      " (epoch " + std::to_string(I.epoch + 1) + "); try a lower --lr or --dtype fp32. " +
                      (last ? "The last good checkpoint is " + *last + " (--resume " + cfg.run_dir + ")"
                            : std::string("No checkpoint was written yet.")));
        }
        (bl.loss / static_cast<double>(n_micro)).backward();
        step_loss += v / static_cast<double>(n_micro);
        tokens_done += bl.tokens;
      }
      if (cfg.max_grad_norm > 0) {
        std::vector<torch::Tensor> ps;
        for (const auto& p : I.named) ps.push_back(p.tensor);
        const double norm = torch::nn::utils::clip_grad_norm_(ps, cfg.max_grad_norm);
        if (!std::isfinite(norm))
          throw Error("training stopped: the gradient norm is " + fmt(norm) + " at step " + std::to_string(I.step + 1) +
                      "; try a lower --lr or --dtype fp32 (the last good checkpoint is kept)");
      }
      I.optimizer->step();
      I.step += 1;
      I.batch_pos += n_micro;
      steps_done_here += 1;
      loss_sum_window += step_loss;
      loss_n_window += 1;
      loss_sum_history += step_loss;
      loss_n_history += 1;

      if (I.step % log_every == 0 || I.batch_pos >= nb) {
        const double el = now_s() - t0;
        I.append_history({{"type", "train"},
                          {"step", I.step},
                          {"epoch", I.epoch + 1},
                          {"loss", loss_sum_history / static_cast<double>(loss_n_history)},
                          {"lr", lr},
                          {"tokens_per_s", el > 0 ? tokens_done / el : 0.0},
                          {"elapsed_s", el}});
        loss_sum_history = 0;
        loss_n_history = 0;
      }
      const double t = now_s();
      if (!cfg.quiet && (t - last_print >= (terminal ? 0.5 : 10.0) || I.step == 1)) {
        const double el = t - t0;
        const int64_t target = I.total_steps;
        const double eta = steps_done_here > 0 ? el / steps_done_here * static_cast<double>(target - I.step) : -1;
        std::ostringstream line;
        line << cfg.label << " step " << I.step << "/" << target << " epoch " << I.epoch + 1 << "/" << cfg.epochs
             << " loss " << fmt(loss_sum_window / std::max<int64_t>(1, loss_n_window)) << " lr " << fmt(lr, 3) << " "
             << format_rate(el > 0 ? tokens_done / el : 0) << " tok/s elapsed " << format_duration(el) << " ETA "
             << format_duration(eta);
        std::cerr << (terminal ? "\r" : "") << line.str() << (terminal ? "\033[K" : "\n") << std::flush;
        last_print = t;
        loss_sum_window = 0;
        loss_n_window = 0;
      }

      bool saved = false;
      if (cfg.eval_every > 0 && I.step % cfg.eval_every == 0) {
        if (!cfg.quiet && terminal) std::cerr << "\n";
        I.validate();
        if (cfg.save_every == 0) {
          I.checkpoint();
          saved = true;
        }
      }
      if (cfg.save_every > 0 && I.step % cfg.save_every == 0 && !saved) {
        I.checkpoint();
        saved = true;
      }
      if (interrupted()) {
        if (!saved) I.checkpoint();
        if (!cfg.quiet && terminal) std::cerr << "\n";
        throw Error("interrupted" + (interrupt_requested() ? std::string(" by ") + interrupt_name() : std::string()) +
                        " at step " + std::to_string(I.step) + "; checkpoint saved; continue with --resume " +
                        cfg.run_dir,
                    ExitCode::kInterrupted);
      }
    }
    // End of the epoch.
    I.epoch += 1;
    I.batch_pos = 0;
    if (!cfg.quiet && terminal) std::cerr << "\n";
    I.validate();
    I.checkpoint();
  }
  return finish(TrainResult::Status::kCompleted);
}

}  // namespace qsenti
