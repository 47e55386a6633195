// Method B prediction cost: one-pass label scoring (batched, teacher forced,
// KV cache for the answers) against what the original script did per text:
// sample up to 10 tokens at temperature 0.1 and parse the answer.
//   bench_scoring [--model DIR] [--dtype bf16|fp32] [--threads N] [--score-texts 128]
//                 [--gen-texts 8] [--batch 16] [--max-length 256]
// Without --model a random Qwen3-0.6B is written to a temporary folder (bf16)
// and removed afterwards. A random model rarely emits an end token, so
// generation runs all 10 tokens: the original's cost per text.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "bench_common.h"
#include "io/labels.h"
#include "methods/label_scoring.h"
#include "model/generation.h"
#include "model/loading.h"
#include "text/prompt_template.h"
#include "text/length_batching.h"
#include "util/runtime.h"

using namespace qsenti;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::string model_dir, dtype_name = "bf16";
  int threads = 0, score_texts = 128, gen_texts = 8, batch = 16, max_length = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model_dir = v;
    else if (k == "--dtype") dtype_name = v;
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--score-texts") score_texts = std::stoi(v);
    else if (k == "--gen-texts") gen_texts = std::stoi(v);
    else if (k == "--batch") batch = std::stoi(v);
    else if (k == "--max-length") max_length = std::stoi(v);
    else {
      std::cerr << "usage: bench_scoring [--model DIR] [--dtype bf16|fp32] [--threads N] [--score-texts N] "
                   "[--gen-texts N] [--batch N] [--max-length N]\n";
      return 2;
    }
  }
  init_runtime(threads);
  const torch::Dtype dtype = dtype_name == "fp32" ? torch::kFloat32 : torch::kBFloat16;
  std::string tmp;
  if (model_dir.empty()) {
    std::random_device rd;
    tmp = (fs::temp_directory_path() / ("qsenti-bench-scoring-" + std::to_string(rd()))).string();
    auto t0 = std::chrono::steady_clock::now();
    write_random_model(Qwen3Config::preset("0.6B"), tmp, 1, torch::kBFloat16);
    std::fprintf(stderr, "wrote a random Qwen3-0.6B to %s in %.1f s\n", tmp.c_str(), bench::seconds_since(t0));
    model_dir = tmp;
  }
  int rc = 0;
  double prefix_s = 0;
  try {
    Qwen3 model = load_qwen3(model_dir, {dtype});
    model->eval();
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    const auto words = default_label_words(LabelSet::binary());
    PromptEncoder enc(Tokenizer::for_model(model_dir), PromptTemplate::from_spec("default", words), words, max_length);
    auto texts = bench::weibo_texts(std::max(score_texts, gen_texts));

    // Scoring: all texts, batches sorted by length (padding bounded at 5%), one
    // forward per batch after the template's opening, which runs once.
    std::vector<std::vector<int32_t>> prompts;
    std::vector<int64_t> lengths;
    int64_t tokens = 0;
    for (int i = 0; i < score_texts; ++i) {
      prompts.push_back(enc.prompt_ids(texts[i]));
      lengths.push_back(static_cast<int64_t>(prompts.back().size()));
      tokens += lengths.back();
    }
    // Generation as the original: one text at a time, 10 new tokens, T = 0.1.
    GenerationOptions g;
    g.max_new_tokens = 10;
    g.temperature = 0.1;
    g.seed = 1;
    // Warm-up of both (oneDNN builds its kernels on first use).
    score_answers(model, {prompts[0], prompts[1]}, enc.scoring_ids(), 151643);
    generate(model, {enc.prompt_ids(texts[0])}, g);

    // The two alternate, a share of the scoring batches then one generated
    // text per round, so that both see the same machine: on a shared VM the
    // memory bandwidth that generation lives on drifts by a third.
    const auto batches = sorted_batches(lengths, batch);
    const PromptPrefix prefix = [&] {
      auto t = std::chrono::steady_clock::now();
      PromptPrefix p = encode_prompt_prefix(model, enc.prefix_ids());  // once, as predict does
      prefix_s = bench::seconds_since(t);
      return p;
    }();
    double prob_sum_err = 0, score_s = prefix_s, gen_s = 0;
    int64_t padded = 0, generated = 0;
    const int rounds = std::max(1, gen_texts);
    for (int r = 0; r < rounds; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      for (size_t bi = static_cast<size_t>(r); bi < batches.size(); bi += static_cast<size_t>(rounds)) {
        const auto& b = batches[bi];
        std::vector<std::vector<int32_t>> seqs;
        int64_t longest = 0;
        for (size_t i : b) seqs.push_back(prompts[i]), longest = std::max(longest, lengths[i]);
        padded += longest * static_cast<int64_t>(b.size());
        torch::Tensor p = label_probabilities(score_answers(model, seqs, enc.scoring_ids(), 151643, &prefix));
        prob_sum_err = std::max(prob_sum_err, (p.sum(1) - 1).abs().max().item<double>());
      }
      score_s += bench::seconds_since(t0);
      if (r < gen_texts) {
        t0 = std::chrono::steady_clock::now();
        generated += static_cast<int64_t>(generate(model, {enc.prompt_ids(texts[static_cast<size_t>(r)])}, g)[0].size());
        gen_s += bench::seconds_since(t0);
      }
    }
    const double score_rate = score_texts / score_s;
    const double gen_rate = gen_texts / gen_s;

    std::printf("model %s (%s), %d threads, mean prompt %.1f tokens\n", model_dir.c_str(), dtype_name.c_str(),
                threads > 0 ? threads : available_cores(), static_cast<double>(tokens) / score_texts);
    std::printf("scoring   : %d texts in %.2f s = %.2f texts/s (batch %d, padding %.1f%%; max |sum p - 1| = %.1e)\n",
                score_texts, score_s, score_rate, batch, 100.0 * (static_cast<double>(padded) / tokens - 1),
                prob_sum_err);
    std::printf("generation: %d texts in %.2f s = %.3f texts/s (%.1f new tokens per text, T=0.1, one at a time)\n",
                gen_texts, gen_s, gen_rate, static_cast<double>(generated) / gen_texts);
    std::printf("speed-up  : %.1fx\n", score_rate / gen_rate);
    std::printf("            (scoring includes %.2f s for the template's opening, run once)\n", prefix_s);
    std::printf("peak memory: %.2f GB\n", bench::peak_rss_bytes() / 1e9);
  } catch (const std::exception& e) {
    std::cerr << "bench_scoring: " << e.what() << "\n";
    rc = 1;
  }
  if (!tmp.empty()) fs::remove_all(tmp);
  return rc;
}
