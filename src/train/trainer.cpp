#include "train/trainer.h"

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
#include "dist/grad_sync.h"
#include "dist/process_group.h"
#include "text/length_batching.h"
#include "train/checkpoint.h"
#include "train/schedule.h"
#include "train/train_options.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/progress.h"
#include "util/runtime.h"
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

torch::Tensor TrainingTask::validation_probabilities(int64_t, int64_t) {
  throw Error("trainer: this method does not shard its validation");
}
Metrics metrics_of_probabilities(const std::vector<int64_t>& labels, const torch::Tensor& probabilities,
                                 const std::vector<std::string>& class_names) {
  torch::Tensor p = probabilities.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> flat(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  return compute_metrics_flat(labels, flat, class_names);
}

Metrics TrainingTask::validation_metrics(const torch::Tensor&) {
  throw Error("trainer: this method does not shard its validation");
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
  c.patience = o.patience;
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
          {"patience", patience},
          {"max_steps", max_steps},
          {"select_metric", select_metric}};
}

nlohmann::json TrainResult::to_json() const {
  return {{"status", status == Status::kCompleted ? "completed" : status == Status::kMaxSteps ? "max_steps" : "early_stopped"},
          {"steps", steps},
          {"epochs_completed", epochs_completed},
          {"best_step", best_step},
          {"best_score", best_score},
          {"train_seconds", train_seconds},
          {"tokens_per_second", tokens_per_second},
          {"world_size", world_size},
          {"allreduce_bytes_per_step", allreduce_bytes_per_step},
          {"allreduce_ms_per_step", allreduce_ms_per_step},
          {"step_ms", step_ms}};
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
  int64_t evals_since_best = 0;  // validations without a better score (--patience)
  bool patience_exhausted() const { return cfg.patience > 0 && evals_since_best >= cfg.patience; }
  // Several processes (dist::world()): rank 0 writes every file; each rank
  // computes its slice of each global batch of world x batch_size examples.
  dist::ProcessGroup* pg = nullptr;
  int rank = 0, world = 1;
  std::unique_ptr<dist::GradientSync> sync;

  Impl(TrainingTask& t, TrainerConfig c) : task(t), cfg(std::move(c)) {}
  ~Impl();

  bool main_process() const { return rank == 0; }
  void barrier() {
    if (pg) pg->barrier();
  }

  std::string best_path() const { return (fs::path(cfg.run_dir) / "best" / "trainable.safetensors").string(); }
  std::string history_path() const { return (fs::path(cfg.run_dir) / "history.jsonl").string(); }

  void append_history(const nlohmann::json& j) {
    if (!main_process()) return;
    std::ofstream out(history_path(), std::ios::app);
    out << j.dump() << "\n";
  }

  // Drops history lines written after the checkpoint we resume from.
  void trim_history(int64_t upto_step) {
    if (!main_process()) return;
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
                        {"evals_since_best", evals_since_best},
                        {"num_examples", lengths.size()},
                        {"world_size", world},
                        {"global_batch_size", cfg.batch_size * world},
                        {"config", cfg.to_json()},
                        {"rng", cpu_rng_state()}};
    // Dropout on a GPU draws from its generator: saved too, for an exact resume.
    if (!cfg.device.is_cpu()) s["device_rng"] = rng_state(cfg.device);
    return s;
  }

  // Rank 0 writes; the others wait for it, so that every rank stops (or
  // resumes) at a checkpoint that exists.
  void checkpoint() {
    if (main_process()) write_checkpoint(cfg.run_dir, step, named, *optimizer, state_json(), cfg.save_total_limit);
    barrier();
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
    // The global batch (workers x --batch-size) fixes the data order: a run
    // may resume with another number of workers when it stays the same.
    const int64_t saved_global = s.value("global_batch_size", saved.at("batch_size").get<int64_t>());
    if (saved_global != cfg.batch_size * world)
      throw InputError(*dir + "/state.json: the run was trained with a global batch of " + std::to_string(saved_global) +
                       " (workers x --batch-size), this command has " + std::to_string(cfg.batch_size * world) + " (" +
                       std::to_string(world) + " x " + std::to_string(cfg.batch_size) +
                       "); resume with the same product");
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
    evals_since_best = s.value("evals_since_best", int64_t{0});
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
      const int64_t n = pg ? task.validation_size() : 0;
      if (n > 0) {
        // Each rank scores its slice; the slices, padded to one size, are
        // gathered so every rank computes the same metrics.
        const int64_t per = (n + world - 1) / world;
        const int64_t lo = std::min<int64_t>(n, rank * per), hi = std::min<int64_t>(n, lo + per);
        torch::Tensor mine = task.validation_probabilities(lo, hi).to(torch::kCPU, torch::kFloat64).contiguous();
        torch::Tensor padded = torch::zeros({per, mine.size(1)}, torch::kFloat64);
        if (hi > lo) padded.narrow(0, 0, hi - lo).copy_(mine);
        if (cfg.device.is_cuda()) padded = padded.to(cfg.device);
        torch::Tensor all = torch::cat(pg->allgather(padded)).to(torch::kCPU).narrow(0, 0, n);
        m = task.validation_metrics(all);
      } else {
        m = task.validate();
      }
    }
    const double score = metric_of(m, cfg.select_metric);
    last_metrics = to_json(m);
    last_eval_step = step;
    append_history({{"type", "valid"}, {"step", step}, {"epoch", epoch + 1}, {"metrics", last_metrics}});
    const bool improved = !have_best || score > best_score;
    evals_since_best = improved ? 0 : evals_since_best + 1;
    if (improved) {
      have_best = true;
      best_score = score;
      best_step = step;
      best_metrics = last_metrics;
      if (main_process()) {
        fs::create_directories(fs::path(cfg.run_dir) / "best");
        save_named_tensors(best_path(), named);
      }
    }
    if (!cfg.quiet)
      std::cerr << "validation at step " << step << ": accuracy " << fmt(m.accuracy) << ", macro F1 "
                << fmt(m.macro_f1) << ", balanced accuracy " << fmt(m.balanced_accuracy)
                << (improved ? " (best so far)" : "  (best " + fmt(best_score) + " at step " + std::to_string(best_step) + ")")
                << "\n";
    if (!cfg.quiet && patience_exhausted())
      std::cerr << "early stop: " << evals_since_best << " validations without a better " << cfg.select_metric
                << " (--patience " << cfg.patience << "); keeping step " << best_step << "\n";
  }
};

Trainer::Impl::~Impl() = default;

Trainer::Trainer(TrainingTask& task, TrainerConfig config) : impl_(std::make_unique<Impl>(task, config)), config_(config) {
  auto& I = *impl_;
  if ((I.pg = dist::world())) {
    I.rank = I.pg->rank();
    I.world = I.pg->size();
    if (I.rank != 0) config_.quiet = I.cfg.quiet = true;  // one progress line, rank 0's
  }
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
  const int64_t global_batch = config_.batch_size * I.world;
  I.batches_per_epoch = (n + global_batch - 1) / global_batch;
  I.steps_per_epoch = (I.batches_per_epoch + config_.grad_accum - 1) / config_.grad_accum;
  I.total_steps = config_.max_steps > 0 ? config_.max_steps : I.steps_per_epoch * config_.epochs;
  I.schedule.kind = config_.schedule;
  I.schedule.peak_lr = config_.lr;
  I.schedule.total_steps = I.total_steps;
  I.schedule.warmup_steps = warmup_steps_for(config_.warmup_ratio, I.total_steps);
  I.schedule.lr_at(0);  // validates the kind
  (void)metric_of(Metrics{}, config_.select_metric);
  if (I.pg) {
    std::vector<torch::Tensor> ps;
    for (const auto& p : I.params) ps.push_back(p.tensor);
    int64_t bucket_bytes = 25 << 20;
    if (const char* b = std::getenv("QSENTI_BUCKET_MB")) bucket_bytes = static_cast<int64_t>(std::atof(b) * (1 << 20));
    I.sync = std::make_unique<dist::GradientSync>(*I.pg, ps, bucket_bytes);
  }
}

Trainer::~Trainer() = default;

int64_t Trainer::total_steps() const { return impl_->total_steps; }
int64_t Trainer::steps_per_epoch() const { return impl_->steps_per_epoch; }
double Trainer::lr_at(int64_t step) const { return impl_->schedule.lr_at(step); }

bool Trainer::restore_best() {
  auto& I = *impl_;
  I.barrier();  // rank 0 wrote best/
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
    if (I.main_process()) fs::remove(I.history_path(), ec);
    // Every rank starts from rank 0's weights (initialisation is seeded,
    // this makes it certain).
    if (I.pg) {
      torch::NoGradGuard no_grad;
      for (auto& p : I.named) {
        // In fp32 (Gloo has no bf16 reductions to trust), then back.
        torch::Tensor t = p.tensor.detach().to(torch::kFloat32).contiguous();
        I.pg->broadcast(t, 0);
        p.tensor.detach().copy_(t);
      }
    }
  }
  I.barrier();

  BatchingOptions bopt;
  bopt.batch_size = cfg.batch_size * I.world;
  bopt.seed = cfg.seed;
  bopt.pool_batches = cfg.length_pool_batches;

  const double t0 = now_s();
  int64_t tokens_done = 0, steps_done_here = 0;
  const int64_t log_every = std::max<int64_t>(1, I.steps_per_epoch / 50);
  // Two windows: the progress line's (reset when it prints, which depends on
  // the terminal) and history.jsonl's (reset at each record), so the history
  // is the same whether or not anyone watches.
  double loss_sum_window = 0, loss_sum_history = 0;
  int64_t loss_n_window = 0, loss_n_history = 0;
  double comm_ms_total = 0, step_ms_total = 0, comm_ms_history = 0;
  double shown_lr = 0;
  // The program's progress line (util/progress): steps, tokens/s, ETA, and
  // the epoch, the loss since the last line and the learning rate.
  ProgressOptions po;
  po.label = cfg.label;
  po.unit = "steps";
  po.extra_unit = "tok";
  po.enabled = !cfg.quiet;
  po.initial = I.step;
  po.redraw_interval_s = 0.5;
  po.detail = [&] {
    std::string d = "epoch " + std::to_string(I.epoch + 1) + "/" + std::to_string(cfg.epochs) + " loss " +
                    fmt(loss_sum_window / static_cast<double>(std::max<int64_t>(1, loss_n_window))) + " lr " +
                    fmt(shown_lr, 3);
    loss_sum_window = 0;
    loss_n_window = 0;
    return d;
  };
  Progress progress(I.total_steps, po);

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
    result.world_size = I.world;
    if (I.sync) result.allreduce_bytes_per_step = I.sync->bytes_per_step();
    if (steps_done_here > 0) {
      result.allreduce_ms_per_step = comm_ms_total / static_cast<double>(steps_done_here);
      result.step_ms = step_ms_total / static_cast<double>(steps_done_here);
    }
    progress.break_line();
    return result;
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
      const double step_t0 = now_s();
      I.set_lr(lr);
      I.optimizer->zero_grad();
      double step_loss = 0;
      double step_tokens = 0;
      bool nonfinite = false;
      double bad_loss = 0;
      for (int64_t k = 0; k < n_micro; ++k) {
        const auto& global = batches[static_cast<size_t>(I.batch_pos + k)];
        // This rank's slice of the global batch, weighted by its share of
        // what the loss averages (a short last batch may leave some empty).
        std::vector<size_t> mine = global;
        double share = 1.0;
        if (I.pg) {
          const size_t lo = std::min(global.size(), static_cast<size_t>(I.rank * cfg.batch_size));
          const size_t hi = std::min(global.size(), lo + static_cast<size_t>(cfg.batch_size));
          mine.assign(global.begin() + static_cast<std::ptrdiff_t>(lo), global.begin() + static_cast<std::ptrdiff_t>(hi));
          const double total = I.task.loss_weight(global);
          share = total > 0 && !mine.empty() ? I.task.loss_weight(mine) / total : 0.0;
          if (k + 1 == n_micro) I.sync->arm();  // this backward's hooks start the all-reduce
        }
        if (mine.empty()) continue;
        BatchLoss bl;
        {
          compat::Autocast autocast(cfg.device.type(), cfg.bf16_autocast);
          bl = I.task.loss(mine);
        }
        const double v = bl.loss.item<double>();
        if (!std::isfinite(v) && !nonfinite) {
          nonfinite = true;
          bad_loss = v;
        }
        // One process stops here; several first agree (below) so that none
        // waits for a rank that left.
        if (nonfinite && !I.pg) break;
        (bl.loss * (share / static_cast<double>(n_micro))).backward();
        step_loss += v * share / static_cast<double>(n_micro);
        step_tokens += static_cast<double>(bl.tokens);
      }
      // (Ctrl-C, SIGTERM, or the testing hook at the step about to end.)
      bool stop_requested =
          interrupt_requested() || (cfg.interrupt_after_step > 0 && I.step + 1 == cfg.interrupt_after_step);
      if (I.pg) {
        I.sync->finish();
        comm_ms_total += I.sync->last_wait_ms();
        comm_ms_history += I.sync->last_wait_ms();
        // The step's loss and tokens summed over the ranks, and whether any
        // saw a non-finite loss or a signal: every rank decides alike.
        torch::Tensor agree = torch::tensor({step_loss, step_tokens, nonfinite ? 1.0 : 0.0, stop_requested ? 1.0 : 0.0},
                                            torch::kFloat64);
        if (cfg.device.is_cuda()) agree = agree.to(cfg.device);
        I.pg->allreduce_sum(agree);
        agree = agree.to(torch::kCPU);
        step_loss = agree[0].item<double>();
        step_tokens = agree[1].item<double>();
        nonfinite = agree[2].item<double>() > 0;
        stop_requested = agree[3].item<double>() > 0;
      }
      tokens_done += static_cast<int64_t>(step_tokens);
      if (nonfinite) {
        auto last = latest_checkpoint(cfg.run_dir);
        const bool mine = !std::isfinite(bad_loss);
        throw Error("training stopped: the loss is " + (mine ? fmt(bad_loss) : std::string("not finite on another worker")) + " at step " + std::to_string(I.step + 1) + " (epoch " +
                    std::to_string(I.epoch + 1) + "); try a lower --lr or --dtype fp32. " +
                    (last ? "The last good checkpoint is " + *last + " (--resume " + cfg.run_dir + ")"
                          : std::string("No checkpoint was written yet.")));
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
      step_ms_total += (now_s() - step_t0) * 1000;
      I.step += 1;
      I.batch_pos += n_micro;
      steps_done_here += 1;
      loss_sum_window += step_loss;
      loss_n_window += 1;
      loss_sum_history += step_loss;
      loss_n_history += 1;

      if (I.step % log_every == 0 || I.batch_pos >= nb) {
        const double el = now_s() - t0;
        nlohmann::json rec = {{"type", "train"},
                              {"step", I.step},
                              {"epoch", I.epoch + 1},
                              {"loss", loss_sum_history / static_cast<double>(loss_n_history)},
                              {"lr", lr},
                              {"tokens_per_s", el > 0 ? tokens_done / el : 0.0},
                              {"elapsed_s", el}};
        if (I.pg) rec["allreduce_ms"] = comm_ms_history / static_cast<double>(loss_n_history);
        I.append_history(rec);
        loss_sum_history = 0;
        loss_n_history = 0;
        comm_ms_history = 0;
      }
      shown_lr = lr;
      progress.advance(1, static_cast<int64_t>(step_tokens));

      bool saved = false;
      if (cfg.eval_every > 0 && I.step % cfg.eval_every == 0) {
        progress.break_line();
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
      // One process also answers a signal that came during this step's end.
      if (!I.pg) stop_requested = stop_requested || interrupt_requested();
      if (I.patience_exhausted()) {
        if (!saved) I.checkpoint();
        return finish(TrainResult::Status::kEarlyStopped);
      }
      if (stop_requested) {
        if (!saved) I.checkpoint();
        progress.break_line();
        throw Error("interrupted" + (interrupt_requested() ? std::string(" by ") + interrupt_name() : std::string()) +
                        " at step " + std::to_string(I.step) + "; checkpoint saved; continue with --resume " +
                        cfg.run_dir,
                    ExitCode::kInterrupted);
      }
    }
    // End of the epoch.
    I.epoch += 1;
    I.batch_pos = 0;
    progress.break_line();
    I.validate();
    I.checkpoint();
    if (I.patience_exhausted() && I.epoch < cfg.epochs) return finish(TrainResult::Status::kEarlyStopped);
  }
  return finish(TrainResult::Status::kCompleted);
}

}  // namespace qsenti
