// Training throughput of method C: tokens/s, time per phase, peak memory and
// padding overhead, on a random model in the real shapes with real Weibo texts.
//
//   bench_train [--preset 0.6B|tiny|4B|8B] [--full] [--lora-r 16] [--lora-dropout 0.05] [--threads 2]
//               [--batch 16] [--steps 4] [--warmup 1] [--max-length 128]
//               [--dtype bf16|fp32] [--grad-checkpointing] [--data data/weibo2018/train.tsv]
//               [--device auto|cpu|cuda] [--plan-only] [--json FILE]
//
// --plan-only prints the memory plan (train/memory_plan.h) and exits without
// building a model; on a GPU the allocator's peak is printed beside it.
// QSENTI_PEAK_TFLOPS (the device's dense bf16 peak) turns on the MFU figure.
//
// Defaults: the 0.6B preset with bf16 weights (frozen), LoRA r=16 on
// q/k/v/o in fp32, bf16 autocast, batch 16, 2 threads. The batches are the
// length-grouped batches training uses; the first --warmup steps are not timed.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "io/dataset.h"
#include "methods/seqcls_model.h"
#include "model/loading.h"
#include "text/batch.h"
#include "text/length_batching.h"
#include "train/train_options.h"
#include "train/trainer.h"
#include "util/assets.h"
#include "util/runtime.h"
#include "device/device.h"
#include "train/memory_plan.h"
#include "util/torch_compat.h"

namespace fs = std::filesystem;
using namespace qsenti;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long vm_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key) + 1);
  return -1;
}

// User + system CPU seconds of the whole process (all threads): on a busy
// machine the wall clock says little, the CPU time much more.
double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "0.6B", dtype = "bf16", data = qsenti::source_dir() + "/data/weibo2018/train.tsv";
  std::string device_spec = "auto", json_out, model_arg;
  bool full = false, ckpt = false, plan_only = false;
  double dropout = 0.05;
  int64_t r = 16, threads = 2, batch = 16, steps = 4, warmup = 1, max_length = 128;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--preset") preset = next();
    else if (a == "--full") full = true;
    else if (a == "--grad-checkpointing") ckpt = true;
    else if (a == "--lora-r") r = std::stoll(next());
    else if (a == "--lora-dropout") dropout = std::stod(next());
    else if (a == "--threads") threads = std::stoll(next());
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--steps") steps = std::stoll(next());
    else if (a == "--warmup") warmup = std::stoll(next());
    else if (a == "--max-length") max_length = std::stoll(next());
    else if (a == "--dtype") dtype = next();
    else if (a == "--data") data = next();
    else if (a == "--device") device_spec = next();
    else if (a == "--plan-only") plan_only = true;
    else if (a == "--model") model_arg = next();
    else if (a == "--json") json_out = next();
    else {
      std::cerr << "unknown option " << a << " (see the comment at the top of bench/bench_train.cpp)\n";
      return 2;
    }
  }
  init_runtime(static_cast<int>(threads));

  // The run's own arithmetic (train/memory_plan.h), for the batch as given.
  MemoryPlanOptions mpo;
  mpo.full = full;
  mpo.bf16 = dtype == "bf16";
  mpo.lora_r = r;
  mpo.grad_checkpointing = ckpt;
  mpo.batch = batch;
  mpo.seq_len = max_length;
  const Qwen3Config preset_config = Qwen3Config::preset(preset);
  const MemoryPlan plan = plan_training_memory(preset_config, mpo);
  auto gib = [](uint64_t b) { return static_cast<double>(b) / (1ull << 30); };
  std::printf("plan (%s, %s, batch %lld x %lld tokens%s): weights %.2f GiB, adapter+head %.3f GiB, gradients %.3f GiB, "
              "AdamW %.3f GiB, activations %.2f GiB; total %.2f GiB (%lld trainable parameters)\n",
              preset.c_str(), full ? "full" : ("LoRA r=" + std::to_string(r)).c_str(), static_cast<long long>(batch),
              static_cast<long long>(max_length), ckpt ? ", checkpointing" : "", gib(plan.weight_bytes),
              gib(plan.adapter_bytes), gib(plan.gradient_bytes), gib(plan.optimizer_bytes), gib(plan.activation_bytes),
              gib(plan.total()), static_cast<long long>(plan.trainable_params));
  nlohmann::json report = {{"preset", preset}, {"mode", full ? "full" : "lora"}, {"lora_r", r}, {"dtype", dtype},
                           {"batch", batch}, {"max_length", max_length}, {"grad_checkpointing", ckpt},
                           {"plan", plan.to_json()}};
  auto write_report = [&] {
    if (json_out.empty()) return;
    std::ofstream(json_out) << report.dump(2) << "\n";
  };
  if (plan_only) {
    write_report();
    return 0;
  }
  const torch::Device device = resolve_device(device_spec);
  std::printf("device: %s\n", device.str().c_str());

  // --model: a folder of the preset's shapes made once (qsenti init), shared
  // with the transformers peer; otherwise a random one written here.
  const fs::path dir = !model_arg.empty() ? fs::path(model_arg)
                                          : fs::temp_directory_path() / ("qsenti-bench-train-" + preset + "-" +
                                                                         std::to_string(::getpid()));
  double t = now_s();
  if (model_arg.empty()) {
    write_random_model(Qwen3Config::preset(preset), dir.string(), 1, torch::kBFloat16);
    std::printf("model: %s preset written in %.1f s\n", preset.c_str(), now_s() - t);
  }

  TrainOptions o;
  o.model = dir.string();
  o.full = full;
  o.dtype = dtype;
  o.lora_r = r;
  o.lora_alpha = 2.0 * r;
  o.lora_dropout = dropout;
  o.seed = 1;
  o.device = device.str();
  Qwen3 model = build_seqcls_model(o, 2);
  auto params = seqcls_trainable_parameters(model, full);
  int64_t n_train = 0;
  std::vector<torch::Tensor> decay, no_decay, all;
  for (const auto& p : params) {
    n_train += p.tensor.numel();
    (p.weight_decay ? decay : no_decay).push_back(p.tensor);
    all.push_back(p.tensor);
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-4).weight_decay(0.01)));
  if (!no_decay.empty())
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-4).weight_decay(0)));
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(1e-4));

  Dataset d = read_dataset(data);
  auto tok = Tokenizer::for_model(dir.string());
  SeqClsEncoding enc;
  enc.max_length = max_length;
  auto ids = seqcls_encode(*tok, d.texts, enc);
  std::vector<int64_t> lengths;
  for (const auto& s : ids) lengths.push_back(static_cast<int64_t>(s.size()));
  BatchingOptions bo;
  bo.batch_size = batch;
  bo.seed = 1;
  auto batches = length_grouped_batches(lengths, 0, bo);
  double mean_len = 0;
  for (auto l : lengths) mean_len += static_cast<double>(l);
  mean_len /= static_cast<double>(lengths.size());
  std::printf("data: %zu texts, mean %.1f tokens , padding overhead %.1f%% (batch %lld)\n",
              lengths.size(), mean_len, 100 * padding_overhead(batches, lengths), static_cast<long long>(batch));
  std::printf("training: %s, %lld trainable parameters, %s, %lld threads%s\n",
              full ? "full" : ("LoRA r=" + std::to_string(r) + " q/k/v/o").c_str(), static_cast<long long>(n_train),
              dtype == "bf16" ? "bf16 autocast" : "fp32", static_cast<long long>(threads),
              ckpt ? ", activation checkpointing" : "");

  std::vector<int64_t> labels(d.labels.begin(), d.labels.end());
  TrainingAllocatorScope allocator;  // as Trainer::run
  reset_device_peak(device);
  double t_fwd = 0, t_bwd = 0, t_opt = 0, c_fwd = 0, c_bwd = 0, c_opt = 0;
  int64_t tokens = 0, padded = 0;
  model->train();
  for (int64_t s = 0; s < warmup + steps; ++s) {
    const auto& b = batches[static_cast<size_t>(s) % batches.size()];
    std::vector<std::vector<int32_t>> seqs;
    std::vector<int64_t> y;
    int64_t real = 0;
    for (size_t i : b) seqs.push_back(ids[i]), y.push_back(labels[i]), real += lengths[i];
    auto [input_ids, mask] = enc.pad(seqs);
    synchronize(device);
    const double t0 = now_s(), c0 = cpu_s();
    torch::Tensor loss;
    {
      compat::Autocast autocast(device.type(), dtype == "bf16");
      torch::Tensor logits = seqcls_logits(model, input_ids, mask, enc.pool_index(input_ids, mask), ckpt);
      loss = torch::nn::functional::cross_entropy(logits, to_device(torch::tensor(y, torch::kInt64), device));
    }
    loss.item<double>();
    const double t1 = now_s(), c1 = cpu_s();
    loss.backward();
    synchronize(device);
    const double t2 = now_s(), c2 = cpu_s();
    torch::nn::utils::clip_grad_norm_(all, 1.0);
    opt.step();
    opt.zero_grad();
    synchronize(device);
    const double t3 = now_s(), c3 = cpu_s();
    if (s < warmup) continue;
    t_fwd += t1 - t0;
    t_bwd += t2 - t1;
    t_opt += t3 - t2;
    c_fwd += c1 - c0;
    c_bwd += c2 - c1;
    c_opt += c3 - c2;
    tokens += real;
    padded += input_ids.numel();
  }
  const double total = t_fwd + t_bwd + t_opt;
  std::printf("%lld timed steps: %.1f real tokens/s (%.1f with padding); per step %.2f s = forward %.2f + backward %.2f + clip/AdamW %.2f\n",
              static_cast<long long>(steps), tokens / total, padded / total, total / steps, t_fwd / steps,
              t_bwd / steps, t_opt / steps);
  const double cpu = c_fwd + c_bwd + c_opt;
  std::printf("CPU time per step %.2f s = forward %.2f + backward %.2f + clip/AdamW %.2f; %.1f tokens per CPU-second "
              "(x %lld threads = the wall-clock rate on an idle machine with perfect scaling)\n",
              cpu / steps, c_fwd / steps, c_bwd / steps, c_opt / steps, tokens / cpu, static_cast<long long>(threads));
  std::printf("peak memory (VmHWM): %.0f MiB\n", vm_kb("VmHWM:") / 1024.0);
  // Model FLOPs utilisation: 6 x (non-embedding) parameters per token for
  // full training, 4 x for LoRA (no weight gradients for the frozen base),
  // over the device's bf16 dense peak given in QSENTI_PEAK_TFLOPS.
  int64_t n_params = 0;
  for (const auto& [name, shape] : qwen3_tensor_shapes(preset_config, false)) {
    if (name == "lm_head.weight" || name == "model.embed_tokens.weight") continue;
    int64_t n = 1;
    for (int64_t dd : shape) n *= dd;
    n_params += n;
  }
  const double flops_per_token = (full ? 6.0 : 4.0) * static_cast<double>(n_params);
  const double achieved = flops_per_token * static_cast<double>(tokens) / total;
  const double peak_tflops = std::getenv("QSENTI_PEAK_TFLOPS") ? std::atof(std::getenv("QSENTI_PEAK_TFLOPS")) : 0;
  report["device"] = device.str();
  report["tokens_per_s"] = tokens / total;
  report["padded_tokens_per_s"] = padded / total;
  report["achieved_tflops"] = achieved / 1e12;
  if (peak_tflops > 0) report["mfu"] = achieved / (peak_tflops * 1e12);
  report["peak_rss_bytes"] = static_cast<uint64_t>(vm_kb("VmHWM:")) * 1024;
  if (device.is_cuda()) {
    report["peak_device_bytes"] = device_peak_bytes(device);
    std::printf("peak device memory (allocator): %.2f GiB (plan %.2f GiB)\n", gib(device_peak_bytes(device)),
                gib(plan.total()));
  }
  std::printf("achieved %.2f TFLOP/s%s\n", achieved / 1e12,
              peak_tflops > 0 ? (", MFU " + std::to_string(100 * achieved / (peak_tflops * 1e12)) + "%").c_str() : "");
  write_report();
  if (model_arg.empty()) fs::remove_all(dir);
  return 0;
}
