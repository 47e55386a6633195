// Method C end to end on the tiny reference model: LoRA and full training
// through train_classifier_method, the run folder (peft adapter / transformers
// model folder, manifest, history), prediction through load_classifier,
// merged against unmerged LoRA, exact resume of an interrupted run, and the
// command line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "methods/classifier.h"
#include "methods/method.h"
#include "methods/seqcls_model.h"
#include "model/config.h"
#include "model/loading.h"
#include "model/peft_adapter.h"
#include "train/train_options.h"
#include "util/error.h"
#include "test_util.h"

namespace qsenti {
namespace {

namespace fs = std::filesystem;
using test::fixture;

// 80 short posts: "好/喜欢" positive, "差/讨厌" negative, with filler so lengths vary.
std::string write_data(const test::TempDir& tmp) { return test::write_toy_sentiment_data(tmp); }

TrainOptions tiny_options(const std::string& data, const std::string& out) {
  TrainOptions o;
  o.method = "classifier";
  o.model = fixture("refs/tiny-qwen3");
  o.train_path = data;
  o.out = out;
  o.epochs = 2;
  o.batch_size = 8;
  o.lr = 5e-3;
  o.lora_r = 4;
  o.lora_alpha = 8;
  o.lora_dropout = 0.1;
  o.max_length = 16;
  o.dtype = "fp32";
  o.quiet = true;
  o.valid_fraction = 0.25;
  o.save_every = 2;
  return o;
}

TEST(ClassifierMethod, LoraRunFolderPredictionAndMergedEqualsUnmerged) {
  test::TempDir tmp;
  const std::string data = write_data(tmp);
  const std::string run = train_classifier_method(tiny_options(data, tmp / "run"));
  for (const char* f : {"manifest.json", "train_options.json", "history.jsonl", "adapter/adapter_config.json",
                        "adapter/adapter_model.safetensors", "best/trainable.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(run) / f)) << f;
  RunManifest m = RunManifest::load(run);
  EXPECT_EQ(m.method, "classifier");
  EXPECT_EQ(m.labels, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_TRUE(m.metrics.contains("valid"));
  EXPECT_EQ(m.extra["mode"], "lora");
  EXPECT_EQ(m.hyperparameters["lora_r"], 4);

  auto cfg = test::read_json(run + "/adapter/adapter_config.json");
  EXPECT_EQ(cfg["task_type"], "SEQ_CLS");
  EXPECT_EQ(cfg["modules_to_save"], nlohmann::json({"score"}));
  EXPECT_EQ(cfg["r"], 4);
  SafetensorsFile adapter(run + "/adapter/adapter_model.safetensors");
  EXPECT_TRUE(adapter.contains("base_model.model.score.weight"));
  EXPECT_TRUE(adapter.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(adapter.contains("base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight"));
  EXPECT_FALSE(adapter.contains("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight"));
  // The adapter holds the best validation weights.
  SafetensorsFile best(run + "/best/trainable.safetensors");
  EXPECT_TRUE(torch::equal(best.tensor("score.weight"), adapter.tensor("base_model.model.score.weight")));
  EXPECT_TRUE(torch::equal(best.tensor("model.layers.1.self_attn.v_proj.lora_B.weight"),
                           adapter.tensor("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight")));
  EXPECT_GT(best.tensor("model.layers.1.self_attn.v_proj.lora_B.weight").abs().max().item<double>(), 0);

  const std::vector<std::string> texts{"我喜欢这个，哈哈", "今天很差", "非常讨厌！", "x"};
  auto clf = load_classifier(run);  // merged LoRA
  torch::Tensor p = clf->predict_proba(texts);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_LT((p.sum(1) - 1).abs().max().item<double>(), 1e-5);

  // The same adapter, unmerged, one text at a time.
  Qwen3 model = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kFloat32});
  load_peft_adapter(model, run + "/adapter");
  ASSERT_TRUE(model->has_score());
  auto tok = Tokenizer::for_model(fixture("refs/tiny-qwen3"));
  SeqClsEncoding enc;
  enc.max_length = 16;
  auto ids = seqcls_encode(*tok, texts, enc);
  for (size_t i = 0; i < texts.size(); ++i) {
    torch::Tensor q = seqcls_predict(model, {ids[i]}, enc, 1, false);
    EXPECT_LT(test::max_abs_diff(q[0], p[static_cast<int64_t>(i)]), 1e-5) << texts[i];
  }
  // The validation accuracy recorded is what the saved classifier gives.
  EXPECT_GE(m.metrics["valid"]["accuracy"].get<double>(), 0.5);
}

TEST(ClassifierMethod, FullRunWritesATransformersClassificationFolder) {
  test::TempDir tmp;
  TrainOptions o = tiny_options(write_data(tmp), tmp / "run");
  o.full = true;
  o.epochs = 1;
  o.lr = 1e-3;
  const std::string run = train_classifier_method(o);
  const std::string dir = run + "/model";
  Qwen3Config c = Qwen3Config::load(dir);
  EXPECT_EQ(c.architectures, (std::vector<std::string>{"Qwen3ForSequenceClassification"}));
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_EQ(c.pad_token_id, 151643);
  EXPECT_EQ(c.num_labels, 2);
  EXPECT_TRUE(fs::exists(dir + "/tokenizer.json"));
  auto raw = test::read_json(dir + "/config.json");
  EXPECT_EQ(raw["id2label"]["1"], "positive");
  EXPECT_EQ(raw["label2id"]["negative"], 0);

  // Round trip: the folder holds the best weights, and every weight moved.
  SafetensorsFile best(run + "/best/trainable.safetensors");
  Qwen3 loaded = load_qwen3(dir, {torch::kFloat32});
  Qwen3 base = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kFloat32});
  auto base_params = base->named_parameters();
  for (auto& item : loaded->named_parameters()) {
    ASSERT_TRUE(best.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), best.tensor(item.key()))) << item.key();
    if (item.key() != "score.weight")
      EXPECT_FALSE(torch::equal(item.value(), base_params[item.key()])) << item.key() << " did not train";
  }
  auto clf = load_classifier(run);
  torch::Tensor p = clf->predict_proba({"我喜欢这个", "今天很差"});
  SeqClsEncoding enc;
  enc.max_length = 16;
  auto ids = seqcls_encode(*Tokenizer::for_model(dir), {"我喜欢这个", "今天很差"}, enc);
  EXPECT_LT(test::max_abs_diff(p, seqcls_predict(loaded, ids, enc, 2, false)), 1e-6);
}

TEST(ClassifierMethod, InterruptedRunResumesToTheSameAdapter) {
  test::TempDir tmp;
  const std::string data = write_data(tmp);
  const std::string a = train_classifier_method(tiny_options(data, tmp / "a"));

  TrainOptions b = tiny_options(data, tmp / "b");
  ::setenv("QSENTI_TEST_INTERRUPT_AFTER_STEP", "5", 1);
  try {
    train_classifier_method(b);
    ADD_FAILURE() << "expected an interruption";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInterrupted);
  }
  ::unsetenv("QSENTI_TEST_INTERRUPT_AFTER_STEP");
  EXPECT_FALSE(RunManifest::exists(tmp / "b"));
  TrainOptions r;  // only --resume: everything else comes from the run folder
  r.method = "classifier";
  r.resume = tmp / "b";
  r.quiet = true;
  train_classifier_method(r);
  SafetensorsFile fa(a + "/adapter/adapter_model.safetensors"), fb(tmp / "b/adapter/adapter_model.safetensors");
  ASSERT_EQ(fa.entries().size(), fb.entries().size());
  for (const auto& [name, e] : fa.entries())
    EXPECT_LE(test::max_abs_diff(fa.tensor(name), fb.tensor(name)), 1e-6) << name;
  EXPECT_EQ(RunManifest::load(a).metrics["valid"], RunManifest::load(tmp / "b").metrics["valid"]);
}

TEST(ClassifierMethod, CommandLineTrainsAndReportsBadLabels) {
  test::TempDir tmp;
  const std::string data = write_data(tmp);
  auto r = test::run_qsenti("train --method classifier --model " + fixture("refs/tiny-qwen3") + " --train " + data +
                                " --out " + (tmp / "run") +
                                " --epochs 1 --batch-size 16 --lora-r 2 --lora-alpha 4 --max-length 12 --dtype fp32",
                            true);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("validation at step"), std::string::npos) << r.output;
  EXPECT_TRUE(RunManifest::exists(tmp / "run"));
  test::write_file(tmp / "one.tsv", "好\tpositive\n也好\tpositive\n");
  r = test::run_qsenti("train --method classifier --model " + fixture("refs/tiny-qwen3") + " --train " +
                           (tmp / "one.tsv") + " --out " + (tmp / "run2"),
                       true);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("at least 2 labels"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace qsenti
