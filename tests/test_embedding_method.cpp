// Method A: the embedder against transformers' reference vectors, the token
// recipe, length-grouped batching, the on-disk cache, the head file, and the
// whole train → eval → train-again-from-cache path through the CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "io/dataset.h"
#include "io/safetensors.h"
#include "methods/classifier.h"
#include "methods/embedder.h"
#include "methods/embedding_cache.h"
#include "methods/embedding_head.h"
#include "methods/run_manifest.h"
#include "model/loading.h"
#include "test_util.h"
#include "util/error.h"
#include "text/length_batching.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

using test::fixture;
using test::json_tensor;
using test::max_abs_diff;

std::vector<std::vector<int32_t>> reference_sequences() {
  const auto inputs = test::read_json(fixture("refs/inputs.json"));
  return inputs.at("sequences").get<std::vector<std::vector<int32_t>>>();
}

TEST(EmbeddingMethod, MatchesReferenceEmbeddingsUnpaddedAndPadded) {
  const auto ref = test::read_json(fixture("refs/tiny-qwen3/reference_fp32.json"));
  const auto seqs = reference_sequences();
  ASSERT_EQ(seqs.size(), 3u);
  for (int64_t batch : {1, 2, 3}) {
    SCOPED_TRACE("batch size " + std::to_string(batch));
    EmbedderOptions eo;
    eo.dtype = "fp32";
    eo.batch_size = batch;
    eo.max_padding = 1e9;  // let the short sequences share a batch with the long one
    eo.progress = false;
    Embedder embedder(fixture("refs/tiny-qwen3"), eo);  // fp32 for a hidden size of 64 either way
    EXPECT_EQ(embedder.dtype_name(), "fp32");
    torch::Tensor v = embedder.embed_ids(seqs);
    ASSERT_EQ(v.sizes(), (std::vector<int64_t>{3, 64}));
    for (int64_t i = 0; i < 3; ++i) {
      SCOPED_TRACE("sequence " + std::to_string(i));
      EXPECT_LE(max_abs_diff(v[i], json_tensor(ref["runs"]["unpadded"][i]["embedding_last_token_l2"])), 1e-4);
      EXPECT_NEAR(v[i].norm().item<double>(), 1.0, 1e-5);
    }
    // Batches of 2 and 3 pad the shorter sequences; all are counted.
    const int64_t real = 7 + 12 + 3;
    EXPECT_EQ(embedder.stats().real_tokens, real);
    if (batch == 1) EXPECT_EQ(embedder.stats().padded_tokens, 0);
    if (batch == 3) EXPECT_EQ(embedder.stats().padded_tokens, 3 * 12 - real);
  }
}

TEST(EmbeddingMethod, AutoDtypeIsFp32ForSmallAndBf16ForRealSizes) {
  EXPECT_EQ(resolve_embedding_dtype("auto", 64), "fp32");
  EXPECT_EQ(resolve_embedding_dtype("auto", 1024), "bf16");
  EXPECT_EQ(resolve_embedding_dtype("auto", 4096), "bf16");
  EXPECT_EQ(resolve_embedding_dtype("fp32", 4096), "fp32");
  EXPECT_EQ(resolve_embedding_dtype("bf16", 64), "bf16");
  EXPECT_THROW(resolve_embedding_dtype("fp8", 64), Error);
}

TEST(EmbeddingMethod, TokenRecipeAppendsEndoftextTruncatesAndPrefixesInstruction) {
  EmbedderOptions eo;
  eo.progress = false;
  eo.max_length = 0;
  Embedder plain(fixture("refs/tiny-qwen3"), eo);
  auto tok = Tokenizer::for_model(fixture("refs/tiny-qwen3"));
  const std::string text = "今天天气真好，心情不错<|im_end|>";
  std::vector<int32_t> expect = tok->encode(text, SpecialTokens::kAsText);
  ASSERT_GT(expect.size(), 6u);
  std::vector<int32_t> ids = plain.token_ids(text);
  ASSERT_EQ(ids.size(), expect.size() + 1);
  EXPECT_EQ(ids.back(), 151643);
  EXPECT_TRUE(std::equal(expect.begin(), expect.end(), ids.begin()));
  // A user's "<|im_end|>" stays text: no control token before the appended one.
  for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_LT(ids[i], 151643);

  eo.max_length = 5;
  Embedder cut(fixture("refs/tiny-qwen3"), eo);
  ids = cut.token_ids(text);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids.back(), 151643);
  EXPECT_TRUE(std::equal(expect.begin(), expect.begin() + 4, ids.begin()));

  eo.max_length = 0;
  eo.instruction = "判断微博情感";
  Embedder instr(fixture("refs/tiny-qwen3"), eo);
  std::vector<int32_t> full = tok->encode("Instruct: 判断微博情感\nQuery:" + text, SpecialTokens::kAsText);
  full.push_back(151643);
  EXPECT_EQ(instr.token_ids(text), full);
  EXPECT_EQ(instr.token_ids(std::vector<std::string>{text, "好"})[0], full);
  // Different settings, different identities (cache keys); same settings, same.
  EXPECT_NE(instr.identity(), plain.identity());
  EXPECT_NE(cut.identity(), plain.identity());
  EmbedderOptions same;
  same.max_length = 0;
  same.batch_size = 3;
  Embedder plain2(fixture("refs/tiny-qwen3"), same);
  EXPECT_EQ(plain2.identity(), plain.identity());
}

TEST(EmbeddingMethod, LengthGroupedBatchesPadUnderTenPercentOnWeibo) {
  Dataset d = read_dataset(test::source_path("data/weibo2018/train.tsv"));
  auto tok = Tokenizer::for_model(fixture("refs/tiny-qwen3"));
  std::vector<std::string> texts(d.texts.begin(), d.texts.begin() + 1000);
  EmbedderOptions eo;
  eo.max_length = 256;
  Embedder e(fixture("refs/tiny-qwen3"), eo);
  const auto seqs = e.token_ids(texts);
  std::vector<int64_t> lengths;
  int64_t real = 0;
  for (const auto& s : seqs) {
    lengths.push_back(static_cast<int64_t>(s.size()));
    real += lengths.back();
  }
  for (int64_t bs : {8, 16, 32}) {
    const auto batches = sorted_batches(lengths, bs);
    std::vector<int> seen(lengths.size(), 0);
    for (const auto& b : batches) {
      EXPECT_LE(static_cast<int64_t>(b.size()), bs);
      for (size_t i : b) seen[i]++;
    }
    for (int s : seen) ASSERT_EQ(s, 1);
    const double overhead = double(padded_tokens(lengths, batches)) / double(real);
    EXPECT_LE(overhead, 0.05) << "batch " << bs;
    // Texts of similar length still share batches: most are full.
    size_t full = 0;
    for (const auto& b : batches) full += static_cast<int64_t>(b.size()) == bs;
    EXPECT_GT(full * static_cast<size_t>(bs), lengths.size() / 2) << "batch " << bs;
    // Unsorted batches in file order pad far more: the grouping is what helps.
    std::vector<std::vector<size_t>> naive;
    for (size_t i = 0; i < lengths.size(); i += static_cast<size_t>(bs)) {
      naive.emplace_back();
      for (size_t j = i; j < std::min(lengths.size(), i + static_cast<size_t>(bs)); ++j) naive.back().push_back(j);
    }
    EXPECT_GT(double(padded_tokens(lengths, naive)) / double(real), 2 * overhead);
  }
}

TEST(EmbeddingMethod, PaddingBoundHoldsForAnyLengths) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<int64_t> lengths(1 + rng() % 300);
    for (auto& l : lengths) l = 1 + static_cast<int64_t>(rng() % (trial % 2 ? 512 : 40));
    int64_t real = 0;
    for (auto l : lengths) real += l;
    for (double bound : {0.0, 0.05, 0.2}) {
      const auto batches = sorted_batches(lengths, 16, bound);
      size_t count = 0;
      for (const auto& b : batches) {
        EXPECT_LE(b.size(), 16u);
        int64_t longest = 0, r = 0;
        for (size_t i : b) longest = std::max(longest, lengths[i]), r += lengths[i];
        EXPECT_LE(double(longest * static_cast<int64_t>(b.size()) - r), bound * double(r) + 1e-9);
        count += b.size();
      }
      EXPECT_EQ(count, lengths.size());
    }
  }
}

TEST(EmbeddingCache, RoundTripsAcrossOpensAndSurvivesTornAndDamagedRecords) {
  test::TempDir dir;
  const int64_t d = 8;
  torch::Tensor v = torch::randn({3, d});
  const std::vector<std::string> texts{"一", "二", "三"};
  std::string shard;
  {
    EmbeddingCache c(dir.path(), "id-A", d, true);
    EXPECT_EQ(c.size(), 0u);
    c.append({&texts[0], &texts[1]}, v.narrow(0, 0, 2));
    c.append({&texts[2]}, v.narrow(0, 2, 1));
    EXPECT_TRUE(c.contains("三"));
  }
  {
    EmbeddingCache c(dir.path(), "id-A", d, false);
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c.dropped_records(), 0);
    std::vector<float> out(d);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(c.lookup(texts[i], out.data()));
      EXPECT_EQ(max_abs_diff(torch::tensor(out), v[i]), 0.0);
    }
    EXPECT_FALSE(c.lookup("四", out.data()));
    for (const auto& e : fs::directory_iterator(c.dir()))
      if (e.path().extension() == ".qec") shard = e.path().string();
  }
  // Other settings see nothing of it.
  EXPECT_EQ(EmbeddingCache(dir.path(), "id-B", d, false).size(), 0u);
  // A read-only cache never creates anything.
  EmbeddingCache(dir.path() + "/absent", "id-A", d, false);
  EXPECT_FALSE(fs::exists(dir.path() + "/absent"));

  // A torn last record (killed mid-write): the others survive.
  ASSERT_FALSE(shard.empty());
  const auto size = fs::file_size(shard);
  fs::resize_file(shard, size - 5);
  {
    EmbeddingCache c(dir.path(), "id-A", d, false);
    EXPECT_EQ(c.size(), 2u);
    EXPECT_EQ(c.dropped_records(), 1);
    EXPECT_FALSE(c.contains("三"));
  }
  // A damaged byte in the first record: only that record is lost.
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(24 + 16 + 3);
    f.put('\x7f');
  }
  EmbeddingCache c(dir.path(), "id-A", d, true);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_FALSE(c.contains("一"));
  EXPECT_TRUE(c.contains("二"));
}

TEST(EmbeddingCache, SecondPassRunsNoForwardPassAndGivesTheSameVectors) {
  test::TempDir dir;
  EmbedderOptions eo;
  eo.progress = false;
  eo.batch_size = 2;
  const std::vector<std::string> texts{"好开心", "太差了，再也不来", "好开心", "一般般吧"};
  torch::Tensor first;
  {
    Embedder e(fixture("refs/tiny-qwen3"), eo);
    EmbeddingCache cache(dir.path(), e.identity(), e.dim(), true);
    CachedEmbedStats s;
    first = embed_with_cache(e, &cache, texts, &s);
    EXPECT_EQ(s.unique, 3);
    EXPECT_EQ(s.misses, 3);
    EXPECT_EQ(e.stats().texts, 3);  // the repeated text is computed once
    EXPECT_EQ(max_abs_diff(first[0], first[2]), 0.0);
  }
  Embedder e(fixture("refs/tiny-qwen3"), eo);
  EmbeddingCache cache(dir.path(), e.identity(), e.dim(), true);
  CachedEmbedStats s;
  torch::Tensor again = embed_with_cache(e, &cache, texts, &s);
  EXPECT_EQ(s.hits, 3);
  EXPECT_EQ(s.misses, 0);
  EXPECT_EQ(e.stats().forward_passes, 0);
  EXPECT_FALSE(e.model_loaded());
  EXPECT_EQ(max_abs_diff(first, again), 0.0);
  EXPECT_EQ(describe(s).rfind("embedding cache: 3/3 hits", 0), 0u);
  // Without a cache the vectors are recomputed, and equal.
  Embedder fresh(fixture("refs/tiny-qwen3"), eo);
  EXPECT_LE(max_abs_diff(embed_with_cache(fresh, nullptr, texts), first), 1e-5);
}

TEST(EmbeddingHead, SavesAndLoadsWithSequentialNames) {
  test::TempDir dir;
  for (const std::string kind : {"mlp", "logreg"}) {
    SCOPED_TRACE(kind);
    torch::manual_seed(3);
    HeadSpec s;
    s.kind = kind;
    s.input_dim = 16;
    s.num_labels = 3;
    EmbeddingHead h(s);
    const std::string path = dir / (kind + ".safetensors");
    save_head(h, path);
    SafetensorsFile f(path);
    EXPECT_TRUE(f.contains("0.weight"));
    EXPECT_TRUE(f.contains("0.bias"));
    EXPECT_EQ(f.contains("3.weight"), kind == "mlp");
    if (kind == "mlp") {
      EXPECT_EQ(f.entry("0.weight").shape, (std::vector<int64_t>{256, 16}));
      EXPECT_EQ(f.entry("3.weight").shape, (std::vector<int64_t>{3, 256}));
    } else {
      EXPECT_EQ(f.entry("0.weight").shape, (std::vector<int64_t>{3, 16}));
    }
    EmbeddingHead back = load_head(path);
    EXPECT_EQ(back->spec().kind, kind);
    h->eval();
    torch::NoGradGuard ng;
    torch::Tensor x = torch::randn({5, 16});
    EXPECT_EQ(max_abs_diff(h->forward(x), back->forward(x)), 0.0);
  }
  test::write_file(dir / "bad.safetensors", "not a safetensors file");
  EXPECT_THROW(load_head(dir / "bad.safetensors"), InputError);
}

// The first `n` rows of the Weibo training file, with the tail's labels too.
std::string weibo_subset(const test::TempDir& dir, size_t n) {
  std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
  std::ofstream out(dir / "weibo.tsv");
  std::string line;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) out << line << "\n";
  return dir / "weibo.tsv";
}

TEST(EmbeddingMethod, EndToEndTrainEvalAndSecondRunFromCache) {
  test::TempDir dir;
  const std::string data = weibo_subset(dir, 600);
  auto init = test::run_qsenti("init --preset tiny --seed 5 --dtype fp32 --out " + dir / "model", true);
  ASSERT_EQ(init.exit_code, 0) << init.output;
  const std::string common = "train --method embedding --model " + dir / "model" + " --train " + data +
                             " --epochs 3 --seed 7 --threads 1 --cache-dir " + dir / "cache";
  auto first = test::run_qsenti(common + " --out " + dir / "run1", true);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("embedding cache: 0/"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("validation at step"), std::string::npos) << first.output;  // the shared Trainer's
  EXPECT_NE(first.output.find("validation ("), std::string::npos) << first.output;

  const RunManifest m = RunManifest::load(dir / "run1");
  EXPECT_EQ(m.method, "embedding");
  EXPECT_TRUE(fs::path(m.base_model).is_absolute());
  EXPECT_FALSE(m.base_model_fingerprint.empty());
  EXPECT_EQ(m.labels, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_EQ(m.extra.at("head"), "mlp");
  EXPECT_EQ(m.extra.at("dtype"), "fp32");
  EXPECT_EQ(m.extra.at("embedding_dim"), 128);
  EXPECT_EQ(m.extra.at("max_length"), 256);
  EXPECT_EQ(m.hyperparameters.at("batch_size"), 32);  // the 0.6B default for an unknown size
  EXPECT_EQ(m.hyperparameters.at("epochs"), 3);
  EXPECT_EQ(m.metrics.at("training").at("epochs_completed"), 3);
  EXPECT_TRUE(fs::exists(dir / "run1/history.jsonl"));  // curves for `qsenti report`, as B and C
  EXPECT_FALSE(fs::exists(dir / "run1/checkpoints"));    // resume state dropped at the end
  EXPECT_EQ(m.metrics.at("valid").at("n"), 60);  // stratified 10% of 600
  EXPECT_TRUE(fs::exists(dir / "run1/head.safetensors"));

  // Evaluation through the generic loader: every row scored. Prediction may
  // read the cache ($QSENTI_CACHE here) but never writes to it.
  auto shards = [&] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir / "cache")) n += e.path().extension() == ".qec";
    return n;
  };
  const size_t shards_before = shards();
  auto ev = test::run_qsenti("eval --threads 1 --run " + dir / "run1" + " --data " + data + " --json");
  ASSERT_EQ(ev.exit_code, 0) << ev.output;
  const auto j = nlohmann::json::parse(ev.output);
  EXPECT_EQ(j.at("n"), 600);
  EXPECT_GE(j.at("accuracy").get<double>(), 0.0);
  EXPECT_LE(j.at("accuracy").get<double>(), 1.0);
  EXPECT_TRUE(j.contains("roc_auc"));
  ::setenv("QSENTI_CACHE", (dir / "cache").c_str(), 1);
  auto cached = test::run_qsenti("eval --threads 1 --run " + dir / "run1" + " --data " + data + " --json --quiet", true);
  ::unsetenv("QSENTI_CACHE");
  ASSERT_EQ(cached.exit_code, 0) << cached.output;
  // Quiet: the merged output is the JSON alone (and no shard is written below:
  // every vector was read back).
  EXPECT_EQ(cached.output.find("embedding:"), std::string::npos) << cached.output;
  const auto jc = nlohmann::json::parse(cached.output);
  EXPECT_NEAR(jc.at("accuracy").get<double>(), j.at("accuracy").get<double>(), 1e-12);
  EXPECT_NEAR(jc.at("log_loss").get<double>(), j.at("log_loss").get<double>(), 1e-5);
  EXPECT_EQ(shards(), shards_before);

  // Second run, another head: every text from the cache, no forward pass.
  auto second = test::run_qsenti(common + " --head logreg --out " + dir / "run2", true);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("embedding cache: "), std::string::npos);
  EXPECT_NE(second.output.find("no forward pass"), std::string::npos) << second.output;
  // "N/N hits": as many hits as distinct texts.
  const auto pos = second.output.find("embedding cache: ");
  const std::string tail = second.output.substr(pos + 17);
  const std::string hits = tail.substr(0, tail.find('/'));
  const std::string of = tail.substr(tail.find('/') + 1, tail.find(' ') - tail.find('/') - 1);
  EXPECT_EQ(hits, of) << second.output;
  EXPECT_GT(std::stoll(hits), 500);
  EXPECT_EQ(RunManifest::load(dir / "run2").extra.at("head"), "logreg");
  // --quiet: nothing but the result, on stdout (it once printed every epoch there).
  auto quiet = test::run_qsenti(common + " --quiet --out " + dir / "run3");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_EQ(quiet.output, "run saved in " + dir / "run3" + "\n");

  // Prediction reads the vectors back and matches what training reported.
  PredictOptions po;
  auto clf = load_classifier(dir / "run1", po);
  Dataset d = read_dataset(data);
  torch::Tensor p = clf->predict_proba(std::vector<std::string>(d.texts.begin(), d.texts.begin() + 5));
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_LE(max_abs_diff(p.sum(1), torch::ones({5})), 1e-5);
}

// Method A on the shared Trainer: an interrupted head training continues
// with `--resume RUN` alone and ends with the same head, bit for bit.
TEST(EmbeddingMethod, InterruptedHeadTrainingResumesToTheSameHead) {
  test::TempDir dir;
  const std::string data = weibo_subset(dir, 300);
  const std::string common = "train --method embedding --model " + fixture("refs/tiny-qwen3") + " --train " + data +
                             " --epochs 2 --batch-size 16 --seed 3 --threads 1 --quiet --cache-dir " + dir / "cache";
  auto a = test::run_qsenti(common + " --out " + dir / "a", true);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ::setenv("QSENTI_TEST_INTERRUPT_AFTER_STEP", "7", 1);
  auto b = test::run_qsenti(common + " --out " + dir / "b", true);
  ::unsetenv("QSENTI_TEST_INTERRUPT_AFTER_STEP");
  ASSERT_EQ(b.exit_code, 130) << b.output;
  EXPECT_FALSE(fs::exists(dir / "b/head.safetensors"));
  auto r = test::run_qsenti("train --resume " + dir / "b" + " --threads 1 --quiet", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Within float rounding, as C's resume test: on LibTorch 2.x (the PyPI
  // wheel's BLAS) a second process rounded a few weights in the last bit
  // (CI); a resume that lost the data order, the dropout generator or Adam's
  // moments is off by orders of magnitude more.
  SafetensorsFile fa(dir / "a/head.safetensors"), fb(dir / "b/head.safetensors");
  ASSERT_EQ(fa.entries().size(), fb.entries().size());
  for (const auto& [name, e] : fa.entries())
    EXPECT_LE(test::max_abs_diff(fa.tensor(name), fb.tensor(name)), 1e-6) << name;
  nlohmann::json va = RunManifest::load(dir / "a").metrics["valid"], vb = RunManifest::load(dir / "b").metrics["valid"];
  EXPECT_NEAR(va.at("log_loss").get<double>(), vb.at("log_loss").get<double>(), 1e-6);
  va.erase("log_loss");
  vb.erase("log_loss");
  EXPECT_EQ(va, vb);
}

}  // namespace
}  // namespace qsenti
