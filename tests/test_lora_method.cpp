// Method B: scoring label words and the answer-only loss against what
// transformers/peft computed on the tiny LoRA reference model; training,
// saving, loading and predicting end to end on Weibo data.
#include <gtest/gtest.h>

#include "methods/label_scoring.h"
#include "model/config.h"
#include "methods/classifier.h"
#include "methods/method.h"
#include "text/prompt_template.h"
#include "train/train_options.h"
#include "util/error.h"
#include <fstream>
#include "model/loading.h"
#include "model/losses.h"
#include "model/peft_adapter.h"
#include "test_util.h"

namespace qsenti {
namespace {

using Ids = std::vector<int32_t>;
using test::fixture;
using test::json_tensor;

class LabelScoringReference : public testing::Test {
 protected:
  void SetUp() override {
    model_ = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kFloat32});
    load_peft_adapter(model_, fixture("refs/tiny-qwen3-lora"));
    model_->eval();
    ref_ = test::read_json(fixture("refs/tiny-qwen3-lora/reference_fp32.json"));
    inputs_ = test::read_json(fixture("refs/inputs.json"));
    for (const auto& s : inputs_["sequences"]) seqs_.push_back(s.get<Ids>());
  }
  Qwen3 model_{nullptr};
  nlohmann::json ref_, inputs_;
  std::vector<Ids> seqs_;
};

TEST_F(LabelScoringReference, AnswerLogProbIsTheSumOfReferenceNll) {
  // Prompt = the first half of each reference sequence, answers = the second
  // halves of all of them: out[i][i] is log p(tail_i | head_i), which the
  // reference gives as -sum of its per-token NLL over the tail. The three
  // prompts differ in length, so the batch is left-padded.
  std::vector<Ids> prompts, answers;
  std::vector<double> expected;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    const auto& s = seqs_[i];
    const size_t m = s.size() / 2;
    prompts.emplace_back(s.begin(), s.begin() + m);
    answers.emplace_back(s.begin() + m, s.end());
    auto nll = ref_["runs"]["unpadded"][i]["per_token_nll"].get<std::vector<double>>();
    double sum = 0;
    for (size_t t = m - 1; t + 1 < s.size(); ++t) sum += nll[t];
    expected.push_back(-sum);
  }
  torch::Tensor scores = score_answers(model_, prompts, answers, 151643);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{3, 3}));
  for (size_t i = 0; i < seqs_.size(); ++i) EXPECT_NEAR(scores[i][i].item<double>(), expected[i], 2e-4) << i;
  // Each prompt scored alone gives the same numbers (padding is invisible).
  for (size_t i = 0; i < seqs_.size(); ++i) {
    torch::Tensor alone = score_answers(model_, {prompts[i]}, answers, 151643);
    EXPECT_LE(test::max_abs_diff(alone[0], scores[i]), 2e-4) << i;
  }
  // Probabilities over the candidates sum to 1.
  torch::Tensor p = label_probabilities(scores);
  EXPECT_LE(test::max_abs_diff(p.sum(1), torch::ones({3})), 1e-6);
}

TEST_F(LabelScoringReference, SharedOpeningRunsOnceWithTheSameScores) {
  // Prompts sharing a 6-token opening, of different lengths (left padding
  // then sits between the opening and the rest): the opening's cache, given
  // or found, changes nothing but the cost.
  const Ids opening(seqs_[1].begin(), seqs_[1].begin() + 6);  // the sequences hold 7, 12 and 3 tokens
  std::vector<Ids> prompts;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    Ids p = opening;
    p.insert(p.end(), seqs_[i].begin(), seqs_[i].end());
    prompts.push_back(p);
  }
  const std::vector<Ids> answers{{seqs_[1][2]}, {seqs_[1][7], seqs_[1][8]}, {151645}};
  torch::Tensor separate = torch::cat({score_answers(model_, {prompts[0]}, answers, 151643),
                                       score_answers(model_, {prompts[1]}, answers, 151643),
                                       score_answers(model_, {prompts[2]}, answers, 151643)});
  torch::Tensor found = score_answers(model_, prompts, answers, 151643);
  const PromptPrefix prefix = encode_prompt_prefix(model_, opening);
  ASSERT_EQ(prefix.cache.length(), 6);
  torch::Tensor given = score_answers(model_, prompts, answers, 151643, &prefix);
  EXPECT_LE(test::max_abs_diff(found, separate), 1e-4);
  EXPECT_LE(test::max_abs_diff(given, separate), 1e-4);
  // A prompt that does not extend the given prefix is an error, not a wrong score.
  EXPECT_THROW(score_answers(model_, {opening}, answers, 151643, &prefix), Error);
  ASSERT_FALSE(std::equal(opening.begin(), opening.end(), seqs_[0].begin()));
  EXPECT_THROW(score_answers(model_, {seqs_[0]}, answers, 151643, &prefix), Error);
}

TEST_F(LabelScoringReference, SingleTokenAnswersAreLastTokenLogProbs) {
  // Whole sequences as prompts, the reference's top-20 next tokens as
  // one-token answers: log p = logit - logsumexp of the reference.
  for (size_t i = 0; i < seqs_.size(); ++i) {
    const auto& last = ref_["runs"]["unpadded"][i]["last_token"];
    auto ids = last["top20_ids"].get<std::vector<int64_t>>();
    auto vals = last["top20_values"].get<std::vector<double>>();
    const double lse = last["logsumexp"].get<double>();
    std::vector<Ids> answers;
    for (auto id : ids) answers.push_back({static_cast<int32_t>(id)});
    torch::Tensor scores = score_answers(model_, seqs_, answers, 151643);
    for (size_t k = 0; k < ids.size(); ++k) EXPECT_NEAR(scores[i][k].item<double>(), vals[k] - lse, 1e-4) << i << "/" << k;
  }
}

TEST_F(LabelScoringReference, MergedAdapterScoresTheSame) {
  std::vector<Ids> answers{{seqs_[0][1], seqs_[0][2]}, {seqs_[1][3]}, {151645}};
  torch::Tensor before = score_answers(model_, seqs_, answers, 151643);
  model_->merge_lora();
  torch::Tensor after = score_answers(model_, seqs_, answers, 151643);
  EXPECT_LE(test::max_abs_diff(before, after), 1e-4);
}

TEST_F(LabelScoringReference, AnswerLossMatchesFullProjectionAndReference) {
  // The right-padded reference batch with pads masked: the reference's loss.
  torch::Tensor ids = json_tensor(inputs_["right"]["input_ids"]).to(torch::kInt64);
  torch::Tensor mask = json_tensor(inputs_["right"]["attention_mask"]).to(torch::kInt64);
  ForwardArgs a;
  a.input_ids = ids;
  a.attention_mask = mask;
  a.position_ids = torch::arange(ids.size(1)).unsqueeze(0).expand({ids.size(0), ids.size(1)});
  torch::NoGradGuard ng;
  torch::Tensor hidden = model_->forward(a).last_hidden_state;
  torch::Tensor labels = ids.masked_fill(mask == 0, kIgnoreIndex);
  EXPECT_NEAR(answer_lm_loss(model_, hidden, labels).item<double>(),
              ref_["runs"]["right_padded"]["loss_labels_pad_masked"].get<double>(), 1e-4);
  // An answer-only mask: the last two real tokens of each row.
  torch::Tensor answer_labels = torch::full_like(ids, kIgnoreIndex);
  for (int64_t b = 0; b < ids.size(0); ++b) {
    const int64_t len = mask[b].sum().item<int64_t>();
    answer_labels[b].slice(0, len - 2, len).copy_(ids[b].slice(0, len - 2, len));
  }
  torch::Tensor full = causal_lm_loss(model_->lm_logits(hidden), answer_labels);
  EXPECT_NEAR(answer_lm_loss(model_, hidden, answer_labels).item<double>(), full.item<double>(), 1e-5);
}

// ------------------------------------------------------------ End to end

// A few steps on Weibo rows with a random tiny model: near-chance accuracy is
// expected; the mechanics are what is checked.
TEST(LoraMethodEndToEnd, TrainSaveLoadPredict) {
  test::TempDir dir;
  Qwen3Config c = Qwen3Config::preset("tiny");
  write_random_model(c, dir / "model", 3, torch::kFloat32);
  // Both classes: the file's first rows and its last (mostly negative) rows.
  std::ifstream in(test::source_path("data/weibo2018/train.tsv"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_GT(lines.size(), 200u);
  {
    std::ofstream out(dir / "train.tsv");
    for (size_t i = 0; i < 40; ++i) out << lines[i] << "\n";
    for (size_t i = lines.size() - 24; i < lines.size(); ++i) out << lines[i] << "\n";
  }
  TrainOptions o;
  o.method = "lora";
  o.model = dir / "model";
  o.train_path = dir / "train.tsv";
  o.out = dir / "run";
  o.max_steps = 3;
  o.batch_size = 8;
  o.max_length = 96;
  o.lr = 1e-3;
  o.quiet = true;
  o.prompt_template = "chat";
  ASSERT_EQ(train_lora_method(o), dir / "run");

  RunManifest m = RunManifest::load(dir / "run");
  EXPECT_EQ(m.method, "lora");
  EXPECT_EQ(m.labels, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_EQ(m.extra["label_words"], nlohmann::json({"负面", "正面"}));
  EXPECT_EQ(m.extra["end_token_id"], 151645);
  EXPECT_EQ(m.extra["template"], "chat");
  EXPECT_EQ(m.extra["max_length"], 96);
  EXPECT_TRUE(m.metrics.contains("valid"));
  AdapterConfig ac = AdapterConfig::load(dir / "run/adapter");
  EXPECT_EQ(ac.task_type, "CAUSAL_LM");
  EXPECT_EQ(ac.lora.r, 16);  // size default (unknown size → 0.6B values)

  // The trained adapter changed the model: B is no longer zero.
  Qwen3 check = load_qwen3(dir / "model");
  load_peft_adapter(check, dir / "run/adapter");
  double b_norm = 0;
  for (auto& [name, lin] : check->lora_layers()) b_norm += lin->lora_B->weight.abs().sum().item<double>();
  EXPECT_GT(b_norm, 0);

  std::vector<std::string> texts{"今天真开心，阳光明媚", "太失望了，再也不来了", "<|im_end|>", "一般般"};
  auto clf = load_classifier(dir / "run");
  torch::Tensor p = clf->predict_proba(texts);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_LE(test::max_abs_diff(p.sum(1), torch::ones({4})), 1e-5);
  EXPECT_TRUE((p > 0).all().item<bool>());

  // The probabilities are those of the answers under the unmerged adapter,
  // computed the slow way: each full sequence through the model.
  {
    torch::NoGradGuard ng;
    check->eval();
    auto words = m.extra["label_words"].get<std::vector<std::string>>();
    PromptEncoder enc(Tokenizer::for_model(dir / "model"), PromptTemplate::from_spec("chat", words), words, 96);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<double> logp;
      for (int64_t k = 0; k < 2; ++k) {
        PromptExample ex = enc.example(texts[i], k);
        ForwardArgs a;
        a.input_ids = torch::tensor(std::vector<int64_t>(ex.input_ids.begin(), ex.input_ids.end())).unsqueeze(0);
        torch::Tensor lp = torch::log_softmax(check->lm_logits(check->forward(a).last_hidden_state[0]), -1);
        double s = 0;
        // The label word's tokens (prediction leaves out the end token here:
        // neither word begins the other).
        const size_t end = ex.prompt_length + enc.scoring_ids()[k].size();
        ASSERT_EQ(end + 1, ex.input_ids.size());
        for (size_t t = ex.prompt_length; t < end; ++t) s += lp[t - 1][ex.input_ids[t]].item<double>();
        logp.push_back(s);
      }
      const double p1 = 1.0 / (1.0 + std::exp(logp[0] - logp[1]));
      EXPECT_NEAR(p[i][1].item<double>(), p1, 1e-4) << texts[i];
    }
  }
  // Batch composition does not change a text's probabilities.
  torch::Tensor single = clf->predict_proba({texts[1]});
  EXPECT_LE(test::max_abs_diff(single[0], p[1]), 1e-5);

  // Label words must match the labels.
  TrainOptions bad = o;
  bad.out = dir / "bad";
  bad.label_words = {"a", "b", "c"};
  EXPECT_THROW(train_lora_method(bad), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
}

}  // namespace
}  // namespace qsenti
