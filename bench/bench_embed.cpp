// Embedding extraction throughput (method A) for a random model in a real
// shape, on Weibo texts: texts/s, tokens/s and the padding overhead of
// length-grouped batches, next to what padding every text to 512 tokens (the
// original Python scripts) would cost.
// Usage: bench_embed [--preset 0.6B] [--texts 256] [--threads 2] [--batch-size 16]
//                    [--max-length 256] [--dtype bf16] [--data data/weibo2018/train.tsv]
//                    [--model DIR]   (an existing model folder instead of a fresh random one)
//                    [--plan-only 1] (tokenise and plan the batches only: padding figures, no model)
// The figures are wall-clock; the load average and the process's CPU time are
// printed beside them, since a busy machine slows multi-threaded runs a lot.
#include <sys/resource.h>

#include <fstream>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "methods/embedder.h"
#include "model/config.h"
#include "model/loading.h"
#include "text/tokenizer.h"
#include "util/assets.h"
#include "util/runtime.h"
#include "text/length_batching.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::string preset = "0.6B", dtype = "bf16", model;
  std::string data = qsenti::source_dir() + "/data/weibo2018/train.tsv";
  int64_t n_texts = 256, batch = 16, max_length = 256;
  int threads = 2;
  bool plan_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--preset") preset = v;
    else if (k == "--texts") n_texts = std::stoll(v);
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--batch-size") batch = std::stoll(v);
    else if (k == "--max-length") max_length = std::stoll(v);
    else if (k == "--dtype") dtype = v;
    else if (k == "--data") data = v;
    else if (k == "--model") model = v;
    else if (k == "--plan-only") plan_only = v != "0";
    else {
      std::cerr << "bench_embed: unknown option " << k << "\n";
      return 2;
    }
  }
  qsenti::init_runtime(threads);

  if (plan_only) {
    // The Embedder's recipe (text, first max_length - 1 tokens, <|endoftext|>) with the bundled tokenizer.
    qsenti::Dataset d = qsenti::read_dataset(data);
    std::vector<std::string> texts(d.texts.begin(), d.texts.begin() + std::min<int64_t>(n_texts, d.size()));
    auto tok = qsenti::Tokenizer::from_file(qsenti::Tokenizer::default_path());
    const auto ids = tok->encode_batch(texts, qsenti::SpecialTokens::kAsText, max_length - 1);
    std::vector<int64_t> lengths;
    int64_t real = 0;
    for (const auto& v : ids) real += lengths.emplace_back(static_cast<int64_t>(v.size()) + 1);
    const auto batches = qsenti::sorted_batches(lengths, batch);
    const int64_t pad = qsenti::padded_tokens(lengths, batches);
    const int64_t n = static_cast<int64_t>(texts.size());
    std::printf("bench_embed (plan only): %lld Weibo texts, batch %lld, max_length %lld: %zu batches, %lld real tokens\n",
                static_cast<long long>(n), static_cast<long long>(batch), static_cast<long long>(max_length),
                batches.size(), static_cast<long long>(real));
    std::printf("  padding: %lld padded tokens = %.2f%% of real tokens (length-grouped batches; must stay under 10%%)\n",
                static_cast<long long>(pad), 100.0 * pad / real);
    std::printf("  the original Python scripts pad every text to 512 tokens: overhead 512*N/real - 1 = %.0f%%\n",
                100.0 * (512.0 * n / real - 1.0));
    return pad * 10 < real ? 0 : 1;
  }
  std::random_device rd;
  const fs::path dir = model.empty() ? fs::temp_directory_path() / ("qsenti-bench-embed-" + std::to_string(rd())) : fs::path(model);
  const auto t_write = std::chrono::steady_clock::now();
  if (model.empty())
    qsenti::write_random_model(qsenti::Qwen3Config::preset(preset), dir.string(), 1,
                               dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32);
  const double write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_write).count();

  qsenti::Dataset d = qsenti::read_dataset(data);
  std::vector<std::string> texts(d.texts.begin(), d.texts.begin() + std::min<int64_t>(n_texts, d.size()));

  qsenti::EmbedderOptions eo;
  eo.dtype = dtype;
  eo.batch_size = batch;
  eo.max_length = max_length;
  eo.progress = false;
  qsenti::Embedder embedder(dir.string(), eo);
  const auto seqs = embedder.token_ids(texts);
  // Warm-up (loads the weights, first-call allocations), not timed.
  embedder.embed_ids({seqs[0]});
  const qsenti::EmbedStats before = embedder.stats();
  rusage ru0{}, ru1{};
  getrusage(RUSAGE_SELF, &ru0);
  const auto t0 = std::chrono::steady_clock::now();
  embedder.embed_ids(seqs);
  getrusage(RUSAGE_SELF, &ru1);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  const double cpu_s = secs(ru1.ru_utime) - secs(ru0.ru_utime) + secs(ru1.ru_stime) - secs(ru0.ru_stime);
  double load1 = -1;
  std::ifstream("/proc/loadavg") >> load1;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t real = embedder.stats().real_tokens - before.real_tokens;
  const int64_t pad = embedder.stats().padded_tokens - before.padded_tokens;
  const int64_t n = static_cast<int64_t>(texts.size());
  if (model.empty()) fs::remove_all(dir);

  std::printf("bench_embed: %s random model (%s, %s %.1f s), %lld Weibo texts, %d threads, batch %lld, max_length %lld\n",
              model.empty() ? preset.c_str() : model.c_str(), embedder.dtype_name().c_str(),
              model.empty() ? "written in" : "given,", write_s, static_cast<long long>(n), threads,
              static_cast<long long>(batch), static_cast<long long>(max_length));
  std::printf("  CPU time %.1f s over %.1f s wall (%.2f cores busy); load average %.2f on %d cores\n", cpu_s, s,
              cpu_s / s, load1, qsenti::available_cores());
  std::printf("  %.1f s: %.2f texts/s, %.1f real tokens/s (%lld real tokens, %.1f per text)\n", s, n / s, real / s,
              static_cast<long long>(real), double(real) / n);
  std::printf("  padding: %lld padded tokens = %.2f%% of real tokens (length-grouped batches; must stay under 10%%)\n",
              static_cast<long long>(pad), 100.0 * pad / real);
  std::printf("  the original Python scripts pad every text to 512 tokens: overhead 512*N/real - 1 = %.0f%% "
              "(%.1fx the tokens computed here)\n",
              100.0 * (512.0 * n / real - 1.0), 512.0 * n / double(real + pad));
  return pad * 10 < real ? 0 : 1;
}
