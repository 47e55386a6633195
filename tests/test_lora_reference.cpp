// Gradients through LoRA and the sequence-classification head against what
// transformers 4.51.3 / peft 0.15.2 computed on the tiny reference models:
// every layer-0 lora_A/lora_B gradient of a causal-LM loss (right-padded
// batch, both label variants, plain and rsLoRA), and the pooled logits and
// loss of Qwen3ForSequenceClassification.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "methods/seqcls_model.h"
#include "model/loading.h"
#include "model/losses.h"
#include "model/peft_adapter.h"
#include "test_util.h"

namespace qsenti {
namespace {

using test::fixture;
using test::json_tensor;
using test::max_abs_diff;

torch::Tensor ids_tensor(const nlohmann::json& j) { return json_tensor(j).to(torch::kInt64); }

class LoraGradReference : public testing::TestWithParam<std::string> {};

TEST_P(LoraGradReference, Layer0GradientsAndLossMatchPeft) {
  const std::string adapter = GetParam();
  auto ref = test::read_json(fixture("refs/" + adapter + "/reference_fp32.json"));
  auto inputs = test::read_json(fixture("refs/inputs.json"));
  const torch::Tensor ids = ids_tensor(inputs["right"]["input_ids"]);
  const torch::Tensor mask = ids_tensor(inputs["right"]["attention_mask"]);
  const auto& runs = ref["runs"]["grads_layer0"];

  for (const std::string variant : {"labels_pad_masked", "labels_eq_input_ids"}) {
    SCOPED_TRACE(adapter + " " + variant);
    Qwen3 model = load_qwen3(fixture("refs/tiny-qwen3"), {torch::kFloat32});
    load_peft_adapter(model, fixture("refs/" + adapter));
    model->train();  // dropout is 0 in these adapters
    for (auto& p : model->parameters()) p.set_requires_grad(false);
    for (auto& [name, layer] : model->lora_layers()) {
      layer->lora_A->weight.set_requires_grad(true);
      layer->lora_B->weight.set_requires_grad(true);
    }
    torch::Tensor labels = ids.clone();
    if (variant == "labels_pad_masked") labels.masked_fill_(mask == 0, kIgnoreIndex);
    ForwardArgs a;
    a.input_ids = ids;
    a.attention_mask = mask;
    // transformers' default positions: 0..T-1 for every row (pads included,
    // which matters when their labels count).
    a.position_ids = torch::arange(ids.size(1), torch::kInt64).unsqueeze(0).expand_as(ids).contiguous();
    torch::Tensor logits = model->lm_logits(model->forward(a).last_hidden_state);
    torch::Tensor loss = causal_lm_loss(logits, labels);
    EXPECT_NEAR(loss.item<double>(), runs[variant]["loss"].get<double>(), 1e-4);
    loss.backward();

    int checked = 0;
    for (auto& [name, layer] : model->lora_layers()) {
      if (name.rfind("model.layers.0.", 0) != 0) continue;
      for (const auto& [suffix, w] : {std::pair<std::string, torch::Tensor>{"lora_A.weight", layer->lora_A->weight},
                                      {"lora_B.weight", layer->lora_B->weight}}) {
        const std::string key = "base_model.model." + name + "." + suffix;
        ASSERT_TRUE(runs[variant]["grads"].contains(key)) << key;
        torch::Tensor expected = json_tensor(runs[variant]["grads"][key]["grad"]);
        ASSERT_TRUE(w.grad().defined()) << key;
        const double scale = expected.abs().max().item<double>();
        EXPECT_LE(max_abs_diff(w.grad(), expected), 1e-4 * scale + 1e-9) << key;
        ++checked;
      }
    }
    EXPECT_EQ(checked, static_cast<int>(runs[variant]["grads"].size()));
    EXPECT_EQ(checked, 14);  // 7 projections x (A, B)
  }
}

INSTANTIATE_TEST_SUITE_P(Adapters, LoraGradReference, testing::Values("tiny-qwen3-lora", "tiny-qwen3-lora-rs"),
                         [](const auto& info) { return info.param == "tiny-qwen3-lora" ? "plain" : "rslora"; });

// The classification folder the fixture leaves to assemble: the backbone of
// tiny-qwen3 plus score_only.safetensors, with the seqcls config.
std::string assemble_seqcls(const test::TempDir& tmp) {
  const std::string dir = tmp / "tiny-qwen3-seqcls";
  std::filesystem::create_directories(dir);
  SafetensorsFile base(fixture("refs/tiny-qwen3/model.safetensors"));
  SafetensorsFile score(fixture("refs/tiny-qwen3-seqcls/score_only.safetensors"));
  SafetensorsWriter w;
  for (const auto& [name, e] : base.entries()) w.add(name, base.tensor(name));
  w.add("score.weight", score.tensor("score.weight"));
  w.set_metadata("format", "pt");
  w.write(dir + "/model.safetensors");
  std::filesystem::copy_file(fixture("refs/tiny-qwen3-seqcls/config.json"), dir + "/config.json");
  return dir;
}

TEST(SeqClsReference, PooledLogitsAndLossMatchTransformersForEveryRun) {
  test::TempDir tmp;
  Qwen3 model = load_qwen3(assemble_seqcls(tmp), {torch::kFloat32});
  ASSERT_TRUE(model->has_score());
  model->eval();
  auto ref = test::read_json(fixture("refs/tiny-qwen3-seqcls/reference_fp32.json"));
  auto inputs = test::read_json(fixture("refs/inputs.json"));
  torch::NoGradGuard ng;
  for (const std::string run : {"right_padded", "left_padded_default_positions", "left_padded_positions_from_mask"}) {
    SCOPED_TRACE(run);
    const auto& side = inputs[run == "right_padded" ? "right" : "left"];
    // Pooled as transformers pools: the rightmost token that is not pad_token_id.
    torch::Tensor ids = ids_tensor(side["input_ids"]);
    torch::Tensor pool = last_non_pad_index(ids, *model->config.pad_token_id);
    EXPECT_TRUE(torch::equal(pool, ids_tensor(ref["runs"][run]["pooled_index"]).reshape({-1})));
    torch::Tensor logits = seqcls_logits(model, ids, ids_tensor(side["attention_mask"]), pool);
    EXPECT_LE(max_abs_diff(logits, json_tensor(ref["runs"][run]["pooled_logits"])), 1e-5);
    torch::Tensor labels = ids_tensor(ref["runs"][run]["loss_labels"]);
    EXPECT_NEAR(torch::nn::functional::cross_entropy(logits, labels).item<double>(),
                ref["runs"][run]["loss"].get<double>(), 1e-5);
  }
  // Unpadded, one text at a time.
  for (size_t i = 0; i < inputs["sequences"].size(); ++i) {
    torch::Tensor ids = ids_tensor(inputs["sequences"][i]).unsqueeze(0);
    torch::Tensor logits = seqcls_logits(model, ids, torch::ones_like(ids), last_non_pad_index(ids, 151643));
    EXPECT_LE(max_abs_diff(logits[0], json_tensor(ref["runs"]["unpadded"][i]["pooled_logits"])), 1e-5);
  }
}

}  // namespace
}  // namespace qsenti
