// Where qsenti and transformers/peft must agree, checked in C++ against what
// transformers does (the Python side of each check lives in tests/interop):
//  1. method C encodes and pools as Qwen3ForSequenceClassification (nothing
//     appended, last non-pad token); old runs keep their recipe;
//  2. a classifier is never asked for an LM head, tied or not;
//  3. activation checkpointing gives the gradients of the plain backward, with
//     frozen embeddings (LoRA) too;
//  4. a LoRA run loaded in bf16 predicts what validation measured (unmerged).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "methods/classifier.h"
#include "methods/method.h"
#include "methods/seqcls_model.h"
#include "model/config.h"
#include "model/loading.h"
#include "model/losses.h"
#include "model/peft_adapter.h"
#include "text/tokenizer.h"
#include "train/train_options.h"
#include "util/error.h"
#include "util/torch_compat.h"
#include "test_util.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;
using test::fixture;

const std::vector<std::string> kTexts{"我喜欢这个，哈哈", "今天很差", "非常讨厌！<|endoftext|>", "x", ""};

std::string write_data(const test::TempDir& tmp) { return test::write_toy_sentiment_data(tmp, 48); }

TrainOptions lora_options(const std::string& data, const std::string& out) {
  TrainOptions o;
  o.method = "classifier";
  o.model = fixture("refs/tiny-qwen3");
  o.train_path = data;
  o.out = out;
  o.epochs = 2;
  o.batch_size = 8;
  o.lr = 2e-2;  // large: the adapters must move far enough to show in bf16
  o.lora_r = 4;
  o.lora_alpha = 8;
  o.max_length = 16;
  o.dtype = "fp32";
  o.quiet = true;
  o.valid_fraction = 0.25;
  return o;
}

// Probabilities as transformers computes them for a LoRA classifier run: the
// text's ids alone, the score at the last non-pad token, adapters unmerged.
torch::Tensor transformers_way(const std::string& run, const std::vector<std::string>& texts) {
  Qwen3 model = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kFloat32});
  load_peft_adapter(model, run + "/adapter");
  model->eval();
  auto tok = Tokenizer::for_model(fixture("refs/tiny-qwen3"));
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> rows;
  for (const auto& t : texts) {
    auto ids = tok->encode(t, SpecialTokens::kAsText);
    if (ids.size() > 16) ids.resize(16);
    if (ids.empty()) ids.push_back(151643);  // transformers pools an all-pad row at 0
    torch::Tensor x = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
    ForwardArgs a;
    a.input_ids = x;
    torch::Tensor h = model->forward(a).last_hidden_state;
    const int64_t at = last_non_pad_index(x, 151643).item<int64_t>();
    rows.push_back(torch::softmax(model->score_logits(h[0][at]).to(torch::kFloat32), -1));
  }
  return torch::stack(rows);
}

// Defect 1: nothing appended, pooled where transformers pools.
TEST(HfAgreement, ClassifierRunPoolsAsTransformers) {
  auto tok = Tokenizer::for_model(fixture("refs/tiny-qwen3"));
  SeqClsEncoding enc;
  enc.max_length = 4;
  EXPECT_EQ(seqcls_encode(*tok, {"我喜欢这个"}, enc)[0], tok->encode("我喜欢这个"));
  EXPECT_EQ(seqcls_encode(*tok, {"我喜欢这个，哈哈，真好"}, enc)[0].size(), 4u);
  // Special-token text stays text: no pad id inside a text, so pooling cannot stop early.
  const auto special = seqcls_encode(*tok, {"a<|endoftext|>b"}, enc);
  for (int32_t id : special[0]) EXPECT_NE(id, 151643);

  test::TempDir tmp;
  const std::string run = train_classifier_method(lora_options(write_data(tmp), tmp / "run"));
  RunManifest m = RunManifest::load(run);
  EXPECT_EQ(m.extra["recipe"], "transformers");
  EXPECT_EQ(m.extra["pad_token_id"], 151643);
  PredictOptions po;
  po.batch_size = 3;  // padded batches pool as single texts do
  torch::Tensor ours = load_classifier(run, po)->predict_proba(kTexts);
  EXPECT_LT(test::max_abs_diff(ours, transformers_way(run, kTexts)), 1e-5);

  // A run written before the recipe existed keeps predicting as it was
  // trained: <|endoftext|> appended and pooled on.
  auto j = test::read_json(run + "/manifest.json");
  j["extra"].erase("recipe");
  test::write_file(run + "/manifest.json", j.dump(2));
  torch::Tensor legacy = load_classifier(run, po)->predict_proba(kTexts);
  Qwen3 model = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kFloat32});
  load_peft_adapter(model, run + "/adapter");
  SeqClsEncoding old;
  old.recipe = SeqClsRecipe::kAppendEndOfText;
  old.max_length = 16;
  auto ids = seqcls_encode(*tok, kTexts, old);
  EXPECT_EQ(ids[1].back(), 151643);
  EXPECT_LT(test::max_abs_diff(legacy, seqcls_predict(model, ids, old, 1, false)), 1e-6);
  EXPECT_GT(test::max_abs_diff(legacy, ours), 1e-4) << "the two recipes should differ on a trained run";

  j["extra"]["recipe"] = "something-newer";
  test::write_file(run + "/manifest.json", j.dump(2));
  try {
    load_classifier(run, po);
    ADD_FAILURE() << "an unknown recipe must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown classifier recipe"), std::string::npos) << e.what();
  }
}

// Defect 2: an untied classifier folder has no lm_head, and loads.
TEST(HfAgreement, UntiedClassifierNeedsNoLmHead) {
  test::TempDir tmp;
  const std::string dir = tmp / "untied";
  fs::create_directories(dir);
  fs::copy_file(fixture("refs/tiny-qwen3/model.safetensors"), dir + "/model.safetensors");
  auto cfg = test::read_json(fixture("refs/tiny-qwen3-seqcls/config.json"));
  cfg["tie_word_embeddings"] = false;
  test::write_file(dir + "/config.json", cfg.dump(2));
  LoadOptions lo;
  lo.score_head = true;
  Qwen3 untied = load_qwen3(dir, lo);  // today: "checkpoint lacks tensor lm_head.weight"
  EXPECT_FALSE(untied->has_lm_head);
  cfg["tie_word_embeddings"] = true;
  test::write_file(dir + "/config.json", cfg.dump(2));
  Qwen3 tied = load_qwen3(dir, lo);
  for (auto& item : untied->named_parameters()) EXPECT_NE(item.key(), "lm_head.weight");
  torch::NoGradGuard ng;
  torch::Tensor ids = torch::tensor(std::vector<int64_t>{1, 2, 3}).unsqueeze(0);
  ForwardArgs a;
  a.input_ids = ids;
  EXPECT_TRUE(torch::equal(untied->forward(a).last_hidden_state, tied->forward(a).last_hidden_state));
  EXPECT_THROW(untied->lm_logits(torch::zeros({64})), Error);

  // Shapes a random untied classifier is written with: no lm_head either.
  Qwen3Config c = Qwen3Config::preset("tiny");
  c.tie_word_embeddings = false;
  for (const auto& [name, shape] : qwen3_tensor_shapes(c, true)) EXPECT_NE(name, "lm_head.weight");
  bool causal_has_head = false;
  for (const auto& [name, shape] : qwen3_tensor_shapes(c, false)) causal_has_head |= name == "lm_head.weight";
  EXPECT_TRUE(causal_has_head);
}

// Defect 3: checkpointed and plain backward give the same gradients.
struct Grads {
  double loss;
  std::map<std::string, torch::Tensor> grad;
};

Grads run_backward(bool lora, bool seqcls, bool checkpoint) {
  LoadOptions lo;
  lo.score_head = seqcls;
  Qwen3 model = load_qwen3(fixture("refs/tiny-qwen3"), lo);
  if (lora) {
    load_peft_adapter(model, fixture("refs/tiny-qwen3-lora"));  // non-zero B: every A gets a gradient
    for (auto& item : model->named_parameters())
      item.value().set_requires_grad(item.key().find("lora_") != std::string::npos || item.key().rfind("score.", 0) == 0);
  } else {
    for (auto& p : model->parameters()) p.set_requires_grad(true);
  }
  model->train();
  auto inputs = test::read_json(fixture("refs/inputs.json"));
  torch::Tensor ids = torch::tensor(inputs["right"]["input_ids"].get<std::vector<std::vector<int64_t>>>()[0]);
  torch::Tensor mask = torch::tensor(inputs["right"]["attention_mask"].get<std::vector<std::vector<int64_t>>>()[0]);
  ids = torch::stack({ids, ids.flip(0)});
  mask = torch::stack({mask, torch::ones_like(mask)});
  torch::Tensor loss;
  if (seqcls) {
    SeqClsEncoding enc;
    torch::Tensor logits = seqcls_logits(model, ids, mask, enc.pool_index(ids, mask), checkpoint);
    loss = torch::nn::functional::cross_entropy(logits, torch::tensor(std::vector<int64_t>{0, 1}));
  } else {
    ForwardArgs a;
    a.input_ids = ids;
    a.attention_mask = mask;
    a.checkpoint_layers = checkpoint;
    torch::Tensor logits = model->lm_logits(model->forward(a).last_hidden_state);
    loss = causal_lm_loss(logits, ids.masked_fill(mask == 0, kIgnoreIndex));
  }
  loss.backward();
  Grads g{loss.item<double>(), {}};
  for (auto& item : model->named_parameters())
    if (item.value().requires_grad()) g.grad[item.key()] = item.value().grad().defined() ? item.value().grad().clone() : torch::Tensor();
  return g;
}

TEST(HfAgreement, GradientCheckpointingGivesTheSameGradients) {
  for (bool lora : {true, false}) {
    for (bool seqcls : {true, false}) {
      SCOPED_TRACE(std::string(lora ? "LoRA" : "full") + (seqcls ? ", method C" : ", method B"));
      Grads plain = run_backward(lora, seqcls, false), ckpt = run_backward(lora, seqcls, true);
      EXPECT_NEAR(plain.loss, ckpt.loss, 1e-6);
      ASSERT_EQ(plain.grad.size(), ckpt.grad.size());
      size_t lora_a0 = 0;
      for (const auto& [name, g] : plain.grad) {
        const torch::Tensor& c = ckpt.grad.at(name);
        if (!g.defined()) {
          EXPECT_FALSE(c.defined() && c.abs().max().item<double>() > 0) << name;
          continue;
        }
        ASSERT_TRUE(c.defined()) << name << ": no gradient with checkpointing";
        const double scale = std::max(1e-8, g.abs().max().item<double>());
        EXPECT_LE(test::max_abs_diff(g, c) / scale, 1e-5) << name;
        if (name.find("layers.0.") != std::string::npos && name.find("lora_A") != std::string::npos) {
          EXPECT_GT(c.abs().max().item<double>(), 0) << name;
          ++lora_a0;
        }
      }
      if (lora) EXPECT_EQ(lora_a0, 7u);
    }
  }
}

// Defect 4: bf16 prediction of a LoRA run equals the unmerged bf16 model that
// validation ran (not base + delta rounded to bf16).
TEST(HfAgreement, LoraRunInBf16PredictsWhatValidationMeasured) {
  test::TempDir tmp;
  const std::string run = train_classifier_method(lora_options(write_data(tmp), tmp / "run"));
  // Many texts: bf16 logits are coarse, so one text rarely shows a change.
  std::vector<std::string> texts = kTexts;
  for (const char* a : {"今天", "我", "真", "非常", "天气", "这个"})
    for (const char* b : {"很好", "很差", "喜欢", "讨厌", "好看啊", "差劲啊", "一般"}) texts.push_back(std::string(a) + b);
  PredictOptions po;
  po.dtype = "bf16";
  po.batch_size = 16;
  torch::Tensor loaded = load_classifier(run, po)->predict_proba(texts);

  // What the trainer's validation runs in bf16: the frozen bf16 base, fp32
  // adapters and head, unmerged, under bf16 autocast.
  Qwen3 model = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kBFloat16});
  load_peft_adapter(model, run + "/adapter");
  const SeqClsEncoding enc = SeqClsEncoding::from_manifest(RunManifest::load(run).extra, 16);
  const auto ids = seqcls_encode(*Tokenizer::for_model(fixture("refs/tiny-qwen3")), texts, enc);
  torch::Tensor validated = seqcls_predict(model, ids, enc, 16, true);
  EXPECT_LT(test::max_abs_diff(loaded, validated), 1e-6);
  // Merging into bf16 weights is another model.
  model->merge_lora();
  EXPECT_GT(test::max_abs_diff(seqcls_predict(model, ids, enc, 16, true), validated), 1e-4);
}

}  // namespace
}  // namespace qsenti
