// Forward throughput of the Qwen3 backbone on Weibo-length batches.
//   bench_forward --model DIR [--dtype bf16|fp32] [--threads 2] [--batch 8] [--batches 6] [--device cpu|cuda]
// Prints tokens/s (real tokens), GFLOP/s and peak memory against the bf16
// weight bytes. Create the 0.6B model once with
//   build/qsenti init --preset 0.6B --out build/bench-models/Qwen3-0.6B
// (bench/run_benchmarks.sh does it all).
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "bench_common.h"
#include "device/device.h"
#include "io/weight_store.h"
#include "model/loading.h"
#include "text/batch.h"
#include "text/tokenizer.h"
#include "util/runtime.h"

using namespace qsenti;

int main(int argc, char** argv) {
  std::string model_dir, dtype_name = "bf16", device_spec = "cpu";
  int threads = 2, batch = 8, batches = 6;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model_dir = v;
    else if (k == "--dtype") dtype_name = v;
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--batch") batch = std::stoi(v);
    else if (k == "--batches") batches = std::stoi(v);
    else if (k == "--device") device_spec = v;
  }
  if (model_dir.empty()) {
    std::cerr << "usage: bench_forward --model DIR [--dtype bf16|fp32] [--threads N] [--batch N] [--batches N]\n";
    return 2;
  }
  init_runtime(threads);
  const torch::Dtype dtype = dtype_name == "fp32" ? torch::kFloat32 : torch::kBFloat16;
  const uint64_t bf16_bytes = [&] {
    WeightStore s(model_dir);
    uint64_t n = 0;
    for (const auto& name : s.names()) n += s.entry(name).numel() * 2;
    return n;
  }();

  auto tok = Tokenizer::for_model(model_dir);
  auto texts = bench::weibo_texts(static_cast<size_t>(batch * (batches + 1)));
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& t : texts) {
    auto ids = tok->encode(t);
    if (ids.size() > 255) ids.resize(255);
    ids.push_back(tok->endoftext_id());
    seqs.push_back(std::move(ids));
  }
  // Length-sorted batches, as qsenti batches real work.
  std::sort(seqs.begin(), seqs.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });

  const uint64_t rss_before_load = bench::rss_bytes();
  auto t_load = std::chrono::steady_clock::now();
  LoadOptions lo;
  lo.dtype = dtype;
  lo.device = resolve_device(device_spec);
  Qwen3 model = load_qwen3(model_dir, lo);
  model->eval();
  const double load_s = bench::seconds_since(t_load);
  const uint64_t rss_after_load = bench::rss_bytes();
  const auto& c = model->config;
  // FLOPs per token: 2 x (matrix parameters outside the embedding) + attention.
  const double matmul_params = static_cast<double>(c.num_hidden_layers) *
                               (c.hidden_size * (c.q_dim() + 2 * c.kv_dim()) + c.q_dim() * c.hidden_size +
                                3.0 * c.hidden_size * c.intermediate_size);

  torch::NoGradGuard ng;
  double real_tokens = 0, padded_tokens = 0, flops = 0, secs = 0;
  for (int b = 0; b <= batches; ++b) {
    std::vector<std::vector<int32_t>> chunk(seqs.begin() + b * batch, seqs.begin() + (b + 1) * batch);
    TokenBatch tb = pad_batch(chunk, tok->endoftext_id(), PadSide::kRight);
    ForwardArgs a;
    a.input_ids = tb.input_ids;
    a.attention_mask = tb.attention_mask;
    auto t0 = std::chrono::steady_clock::now();
    torch::Tensor h = model->forward(a).last_hidden_state;
    // The last token's logits, as scoring and generation need them.
    torch::Tensor last = gather_positions(h, last_token_index(tb.attention_mask));
    torch::Tensor logits = model->lm_logits(last);
    (void)logits.sum().item<float>();  // waits for the device too
    const double dt = bench::seconds_since(t0);
    if (b == 0) continue;  // warm-up (oneDNN primitive creation)
    const double T = static_cast<double>(tb.input_ids.size(1));
    double real = 0;
    for (auto l : tb.lengths) real += static_cast<double>(l);
    real_tokens += real;
    padded_tokens += T * batch;
    flops += 2.0 * matmul_params * T * batch + 4.0 * c.num_hidden_layers * c.q_dim() * T * T * batch +
             2.0 * c.hidden_size * c.vocab_size * batch;
    secs += dt;
  }
  const uint64_t peak = bench::peak_rss_bytes();
  std::printf("device %s\n", lo.device.str().c_str());
  std::printf("forward %s: %s, %d threads, batch %d, %.0f real tokens in %.2f s (mean %.1f tokens/text)\n",
              dtype_name.c_str(), model_dir.c_str(), threads, batch, real_tokens, secs,
              real_tokens / (batches * batch));
  std::printf("  throughput      %.1f tokens/s (real tokens), %.1f GFLOP/s\n", real_tokens / secs, flops / secs / 1e9);
  std::printf("  padding         %.1f%% overhead (padded/real - 1)\n", 100.0 * (padded_tokens / real_tokens - 1));
  std::printf("  load            %.2f s\n", load_s);
  std::printf("  peak memory     %.2f GiB = %.2fx the bf16 weight bytes (%.2f GiB)\n", peak / 1073741824.0,
              static_cast<double>(peak) / bf16_bytes, bf16_bytes / 1073741824.0);
  std::printf("  memory parts    %.2f GiB before loading (libraries, tokenizer), %.2f GiB after loading, %.2f GiB now\n",
              rss_before_load / 1073741824.0, rss_after_load / 1073741824.0, bench::rss_bytes() / 1073741824.0);
  return 0;
}
