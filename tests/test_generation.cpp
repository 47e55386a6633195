// Generation: the KV cache gives the same tokens as recomputing the whole
// sequence, padding in a batch changes nothing, sampling is seeded and
// follows temperature/top-p, and rows stop at the end tokens.
#include <gtest/gtest.h>

#include "model/generation.h"
#include "model/loading.h"
#include "model/peft_adapter.h"
#include "test_util.h"

namespace qsenti {
namespace {

using Ids = std::vector<int32_t>;

class GenerationTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Qwen3(load_qwen3(test::fixture("refs/tiny-qwen3"), {torch::kFloat32}));
    load_peft_adapter(*model_, test::fixture("refs/tiny-qwen3-lora"));
    (*model_)->eval();
    auto seqs = test::read_json(test::fixture("refs/inputs.json"))["sequences"];
    for (const auto& s : seqs) prompts_.push_back(s.get<Ids>());
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static Qwen3* model_;
  static std::vector<Ids> prompts_;
};
Qwen3* GenerationTest::model_ = nullptr;
std::vector<Ids> GenerationTest::prompts_;

TEST_F(GenerationTest, CacheMatchesRecomputingGreedy) {
  GenerationOptions o;
  o.max_new_tokens = 8;
  o.stop_ids = {};
  GenerationOptions no_cache = o;
  no_cache.use_cache = false;
  // One prompt at a time, then all three in one left-padded batch.
  std::vector<Ids> singles;
  for (const auto& p : prompts_) {
    auto cached = generate(*model_, {p}, o);
    auto recomputed = generate(*model_, {p}, no_cache);
    ASSERT_EQ(cached.size(), 1u);
    EXPECT_EQ(cached[0].size(), 8u);
    EXPECT_EQ(cached, recomputed);
    singles.push_back(cached[0]);
  }
  auto batch_cached = generate(*model_, prompts_, o);
  auto batch_recomputed = generate(*model_, prompts_, no_cache);
  EXPECT_EQ(batch_cached, batch_recomputed);
  EXPECT_EQ(batch_cached, singles);  // padding does not change a row's tokens
}

TEST_F(GenerationTest, GreedyMatchesArgmaxOfFullForward) {
  // The first generated token is the argmax of the reference-checked forward.
  torch::NoGradGuard ng;
  for (const auto& p : prompts_) {
    ForwardArgs a;
    a.input_ids = torch::tensor(std::vector<int64_t>(p.begin(), p.end())).unsqueeze(0);
    auto h = (*model_)->forward(a).last_hidden_state;
    int64_t best = (*model_)->lm_logits(h[0][-1]).argmax().item<int64_t>();
    GenerationOptions o;
    o.max_new_tokens = 1;
    EXPECT_EQ(generate(*model_, {p}, o)[0], Ids{static_cast<int32_t>(best)});
  }
}

TEST_F(GenerationTest, StopsAtEndTokens) {
  GenerationOptions o;
  o.max_new_tokens = 6;
  o.stop_ids = {};
  auto free_run = generate(*model_, prompts_, o);
  // Make the third token of row 0 a stop token: row 0 ends there (stop token
  // kept), the other rows are unaffected.
  o.stop_ids = {free_run[0][2]};
  auto stopped = generate(*model_, prompts_, o);
  const auto first_stop = std::find(free_run[0].begin(), free_run[0].end(), free_run[0][2]) - free_run[0].begin();
  EXPECT_EQ(stopped[0], Ids(free_run[0].begin(), free_run[0].begin() + first_stop + 1));
  for (size_t b = 1; b < prompts_.size(); ++b) {
    auto it = std::find(free_run[b].begin(), free_run[b].end(), free_run[0][2]);
    EXPECT_EQ(stopped[b], Ids(free_run[b].begin(), it == free_run[b].end() ? it : it + 1));
  }
}

// 8 tokens at temperature 1.5, top-p 0.95, seed 7, no stop tokens.
GenerationOptions sampling_options() {
  GenerationOptions o;
  o.max_new_tokens = 8;
  o.temperature = 1.5;
  o.top_p = 0.95;
  o.seed = 7;
  o.stop_ids = {};
  return o;
}

TEST_F(GenerationTest, SamplingIsSeeded) {
  // The same seed gives the same tokens on the same path; another seed others.
  GenerationOptions o = sampling_options();
  auto a = generate(*model_, prompts_, o);
  EXPECT_EQ(generate(*model_, prompts_, o), a);
  GenerationOptions no_cache = o;
  no_cache.use_cache = false;
  EXPECT_EQ(generate(*model_, prompts_, no_cache), generate(*model_, prompts_, no_cache));
  o.seed = 8;
  EXPECT_NE(generate(*model_, prompts_, o), a);
  // A vanishing top-p keeps only the most likely token: greedy.
  GenerationOptions greedy;
  greedy.max_new_tokens = 8;
  greedy.stop_ids = {};
  o.top_p = 1e-9;
  EXPECT_EQ(generate(*model_, prompts_, o), generate(*model_, prompts_, greedy));
}

// What the cache promises along a sampled path: at every step its next-token
// logits equal those of recomputing the whole sequence, within fp32 rounding.
// (Comparing the sampled tokens themselves would depend on the CPU: logits
// that differ in the last bits pick another token when the uniform draw falls
// near a boundary, as it did on avx512_bf16 Xeons.)
TEST_F(GenerationTest, CachedLogitsMatchRecomputingAlongASampledPath) {
  torch::NoGradGuard ng;
  GenerationOptions o = sampling_options();
  auto as_tensor = [](const Ids& ids) {
    return torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  };
  for (const auto& p : prompts_) {
    const Ids sampled = generate(*model_, {p}, o)[0];
    ASSERT_EQ(sampled.size(), 8u);
    // Incremental: the prompt, then one sampled token at a time.
    KVCache cache;
    std::vector<torch::Tensor> cached;
    ForwardArgs first;
    first.input_ids = as_tensor(p);
    first.cache = &cache;
    cached.push_back((*model_)->lm_logits((*model_)->forward(first).last_hidden_state[0][-1]));
    for (size_t i = 0; i + 1 < sampled.size(); ++i) {
      ForwardArgs step;
      step.input_ids = as_tensor({sampled[i]});
      step.cache = &cache;
      cached.push_back((*model_)->lm_logits((*model_)->forward(step).last_hidden_state[0][-1]));
    }
    // Recomputed: one pass over prompt + sampled tokens.
    Ids whole = p;
    whole.insert(whole.end(), sampled.begin(), sampled.end() - 1);
    ForwardArgs full;
    full.input_ids = as_tensor(whole);
    torch::Tensor h = (*model_)->forward(full).last_hidden_state[0];
    for (size_t i = 0; i < cached.size(); ++i) {
      torch::Tensor ref = (*model_)->lm_logits(h[static_cast<int64_t>(p.size() + i) - 1]);
      const double diff = (cached[i] - ref).abs().max().item<double>();
      EXPECT_LT(diff, 1e-4) << "step " << i;
      // The same logits and seed give the same token.
      std::mt19937_64 r1(11), r2(11);
      EXPECT_EQ(pick_next_tokens(ref.unsqueeze(0), o, r1), pick_next_tokens(ref.unsqueeze(0), o, r2));
    }
  }
}

TEST(PickNextTokens, TopPAndTemperature) {
  // Probabilities 0.6, 0.25, 0.1, 0.05.
  torch::Tensor logits = torch::tensor({0.6, 0.25, 0.1, 0.05}).log().unsqueeze(0);
  GenerationOptions o;
  o.temperature = 1.0;
  o.top_p = 0.8;  // keeps {0, 1} (0.6 < 0.8 <= 0.85)
  std::mt19937_64 rng(1);
  std::vector<int> counts(4, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[pick_next_tokens(logits, o, rng)[0]]++;
  EXPECT_EQ(counts[2] + counts[3], 0);
  EXPECT_NEAR(counts[0] / double(n), 0.6 / 0.85, 0.015);
  // Low temperature concentrates on the best token.
  o.top_p = 1.0;
  o.temperature = 0.05;
  counts.assign(4, 0);
  for (int i = 0; i < 2000; ++i) counts[pick_next_tokens(logits, o, rng)[0]]++;
  EXPECT_EQ(counts[0], 2000);
  // Temperature 1 without top-p follows the distribution.
  o.temperature = 1.0;
  counts.assign(4, 0);
  for (int i = 0; i < n; ++i) counts[pick_next_tokens(logits, o, rng)[0]]++;
  EXPECT_NEAR(counts[3] / double(n), 0.05, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 0.25, 0.015);
  // Greedy is the argmax of each row.
  GenerationOptions g;
  torch::Tensor two = torch::tensor({{0.0, 3.0, 1.0}, {5.0, 0.0, 1.0}});
  EXPECT_EQ(pick_next_tokens(two, g, rng), (Ids{1, 0}));
}

}  // namespace
}  // namespace qsenti
