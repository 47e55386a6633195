// GGUF writer and export: a round trip through our own reader (every value
// type, every tensor type), Q8_0's error bound, atomic writes, llama.cpp's
// tensor names, and `qsenti export --format gguf` of the tiny fixture model.
// tests/interop/check_gguf.py has PyPI's gguf (and llama.cpp) judge the files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "export/gguf_export.h"
#include "export/gguf_reader.h"
#include "export/gguf_writer.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "test_util.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace qsenti;

namespace {

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(GgufWriter, RoundTripsEveryValueAndTensorType) {
  test::TempDir tmp;
  torch::manual_seed(3);
  const torch::Tensor a = torch::randn({3, 5});           // f32, odd shape
  const torch::Tensor b = torch::randn({4, 7}) * 100;      // f16
  const torch::Tensor c = torch::randn({2, 3, 4});         // bf16, 3-d
  const torch::Tensor d = torch::randn({6, 64}).to(torch::kBFloat16);  // q8_0 from bf16
  const torch::Tensor e = torch::randn({9});               // 1-d

  GgufWriter w;
  w.set_u8("t.u8", 200);
  w.set_i8("t.i8", -100);
  w.set_u16("t.u16", 60000);
  w.set_i16("t.i16", -30000);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_u64("t.u64", 1ull << 60);
  w.set_i64("t.i64", -(1ll << 60));
  w.set_f32("t.f32", 1.5f);
  w.set_f64("t.f64", 0.1);
  w.set_bool("t.bool", true);
  w.set_string("t.str", "Qwen3 情感");
  w.set_strings("t.strs", {"negative", "", "正面 positive"});
  w.set_i32s("t.i32s", {1, -2, 3});
  w.set_u32s("t.u32s", {7});
  w.set_f32s("t.f32s", {0.25f, -1.0f});
  w.set_string("t.str", "replaced");  // same key again: replaced, not duplicated
  w.add_tensor("a", GgufTensorType::kF32, {3, 5}, [&] { return a; });
  w.add_tensor("b", GgufTensorType::kF16, {4, 7}, [&] { return b; });
  w.add_tensor("c", GgufTensorType::kBF16, {2, 3, 4}, [&] { return c; });
  w.add_tensor("d", GgufTensorType::kQ8_0, {6, 64}, [&] { return d; });
  w.add_tensor("e", GgufTensorType::kF32, {9}, [&] { return e; });
  const std::string path = tmp / "t.gguf";
  w.write(path);

  GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().size(), 17u);  // 16 keys (one set twice) + general.alignment
  EXPECT_EQ(f.at("t.u8").value.get<int>(), 200);
  EXPECT_EQ(f.at("t.i8").value.get<int>(), -100);
  EXPECT_EQ(f.at("t.u16").value.get<int>(), 60000);
  EXPECT_EQ(f.at("t.i16").value.get<int>(), -30000);
  EXPECT_EQ(f.at("t.u32").value.get<uint32_t>(), 4000000000u);
  EXPECT_EQ(f.at("t.i32").value.get<int32_t>(), -2000000000);
  EXPECT_EQ(f.at("t.u64").value.get<uint64_t>(), 1ull << 60);
  EXPECT_EQ(f.at("t.i64").value.get<int64_t>(), -(1ll << 60));
  EXPECT_EQ(f.at("t.f32").value.get<float>(), 1.5f);
  EXPECT_EQ(f.at("t.f64").value.get<double>(), 0.1);
  EXPECT_EQ(f.at("t.bool").value.get<bool>(), true);
  EXPECT_EQ(f.at("t.str").value.get<std::string>(), "replaced");
  EXPECT_EQ(f.at("t.strs").type, GgufValueType::kArray);
  EXPECT_EQ(f.at("t.strs").element_type, GgufValueType::kString);
  EXPECT_EQ(f.at("t.strs").value, nlohmann::json({"negative", "", "正面 positive"}));
  EXPECT_EQ(f.at("t.i32s").element_type, GgufValueType::kI32);
  EXPECT_EQ(f.at("t.i32s").value, nlohmann::json({1, -2, 3}));
  EXPECT_EQ(f.at("t.u32s").value, nlohmann::json({7}));
  EXPECT_EQ(f.at("t.f32s").value, nlohmann::json({0.25, -1.0}));
  EXPECT_EQ(f.keys_in_order().front(), "t.u8");  // order of first set kept

  ASSERT_EQ(f.tensors().size(), 5u);
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  EXPECT_EQ(f.find_tensor("c")->shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(f.find_tensor("d")->type, 8u);
  EXPECT_TRUE(torch::equal(f.tensor("a"), a));
  EXPECT_TRUE(torch::equal(f.tensor("b"), b.to(torch::kFloat16).to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(f.tensor("c"), c.to(torch::kBFloat16).to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(f.tensor("d"), dequantize_q8_0(quantize_q8_0(d.to(torch::kFloat32))).view({6, 64})));
  EXPECT_TRUE(torch::equal(f.tensor("e"), e));
  // Data section = tensors padded to the alignment, nothing else.
  EXPECT_EQ(fs::file_size(path) % 32, 0u);
}

TEST(GgufWriter, GgmlDimensionOrderIsReversed) {
  // The file stores ne[0] = the innermost (contiguous) dimension first; our
  // reader turns it back. Check the raw bytes: the first tensor's dims follow
  // its name in the header.
  test::TempDir tmp;
  GgufWriter w;
  w.add_tensor("w", GgufTensorType::kF32, {2, 3}, [] { return torch::zeros({2, 3}); });
  w.write(tmp / "o.gguf");
  std::ifstream in(tmp / "o.gguf", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const size_t at = bytes.find(std::string("\x01\0\0\0\0\0\0\0w", 9));
  ASSERT_NE(at, std::string::npos);
  uint32_t nd;
  uint64_t d0, d1;
  std::memcpy(&nd, bytes.data() + at + 9, 4);
  std::memcpy(&d0, bytes.data() + at + 13, 8);
  std::memcpy(&d1, bytes.data() + at + 21, 8);
  EXPECT_EQ(nd, 2u);
  EXPECT_EQ(d0, 3u);
  EXPECT_EQ(d1, 2u);
}

TEST(GgufQ8_0, ErrorWithinHalfAStepPerBlock) {
  torch::manual_seed(11);
  torch::Tensor x = torch::randn({4096}) * torch::rand({4096}) * 10;
  x.slice(0, 64, 96).zero_();  // an all-zero block: scale 0, exact zeros back
  torch::Tensor q = quantize_q8_0(x);
  ASSERT_EQ(q.sizes(), (std::vector<int64_t>{128, 34}));
  torch::Tensor back = dequantize_q8_0(q);
  torch::Tensor xb = x.view({-1, 32}), bb = back.view({-1, 32});
  torch::Tensor d = xb.abs().amax(1) / 127;
  torch::Tensor d16 = d.to(torch::kFloat16).to(torch::kFloat32);
  // Half a quantisation step, plus the scale's own fp16 rounding times the
  // largest code (127).
  torch::Tensor bound = 0.5 * d + 127 * (d - d16).abs() + 1e-7;
  torch::Tensor err = (xb - bb).abs().amax(1);
  EXPECT_TRUE((err <= bound).all().item<bool>()) << (err - bound).max().item<double>();
  EXPECT_TRUE(torch::equal(bb[2], torch::zeros({32})));
  // The codes span -127..127 and the largest magnitude maps to +-127.
  torch::Tensor codes = q.slice(1, 2).contiguous().view(torch::kInt8).to(torch::kInt32);
  EXPECT_EQ(codes.abs().amax(1)[0].item<int>(), 127);
}

TEST(GgufQ8_0, RoundsHalfAwayFromZeroLikeGgml) {
  // amax 127 → d = 1 exactly: codes are round(x), halves away from zero.
  torch::Tensor x = torch::zeros({32});
  x[0] = 127;
  x[1] = 2.5;
  x[2] = -2.5;
  x[3] = 0.5;
  x[4] = -0.49999997f;
  torch::Tensor codes = quantize_q8_0(x).slice(1, 2).contiguous().view(torch::kInt8).to(torch::kInt32);
  EXPECT_EQ(codes[0][1].item<int>(), 3);
  EXPECT_EQ(codes[0][2].item<int>(), -3);
  EXPECT_EQ(codes[0][3].item<int>(), 1);
  EXPECT_EQ(codes[0][4].item<int>(), 0);
}

TEST(GgufWriter, RefusesRowsThatAreNotWholeQ8Blocks) {
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("x", GgufTensorType::kQ8_0, {4, 48}, [] { return torch::zeros({4, 48}); }), Error);
  EXPECT_THROW(w.add_tensor("", GgufTensorType::kF32, {1}, [] { return torch::zeros({1}); }), Error);
  w.add_tensor("x", GgufTensorType::kF32, {1}, [] { return torch::zeros({1}); });
  EXPECT_THROW(w.add_tensor("x", GgufTensorType::kF32, {1}, [] { return torch::zeros({1}); }), Error);
}

TEST(GgufWriter, FailedWriteLeavesNoFileAndKeepsTheOldOne) {
  test::TempDir tmp;
  const std::string path = tmp / "m.gguf";
  auto make = [](bool fail, std::vector<int64_t> produced) {
    GgufWriter w;
    w.set_string("general.architecture", "qwen3");
    w.add_tensor("ok", GgufTensorType::kF32, {4, 32}, [] { return torch::ones({4, 32}); });
    w.add_tensor("bad", GgufTensorType::kF16, {8, 32}, [fail, produced]() -> torch::Tensor {
      if (fail) throw Error("producer failed");
      return torch::ones(produced);
    });
    return w;
  };
  EXPECT_THROW(make(true, {8, 32}).write(path), Error);
  EXPECT_TRUE(folder_entries(tmp.path()).empty());
  EXPECT_THROW(make(false, {8, 31}).write(path), Error);  // shape differs from the declared one
  EXPECT_TRUE(folder_entries(tmp.path()).empty());

  make(false, {8, 32}).write(path);
  const auto size = fs::file_size(path);
  EXPECT_THROW(make(true, {8, 32}).write(path), Error);
  EXPECT_EQ(folder_entries(tmp.path()), std::vector<std::string>{"m.gguf"});
  EXPECT_EQ(fs::file_size(path), size);
  GgufFile f(path);
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST(GgufReader, RejectsTruncatedAndForeignFiles) {
  test::TempDir tmp;
  GgufWriter w;
  w.add_tensor("x", GgufTensorType::kF32, {64, 64}, [] { return torch::ones({64, 64}); });
  w.write(tmp / "ok.gguf");
  fs::copy_file(tmp / "ok.gguf", tmp / "cut.gguf");
  fs::resize_file(tmp / "cut.gguf", fs::file_size(tmp / "ok.gguf") - 100);
  EXPECT_THROW({ GgufFile g(tmp / "cut.gguf"); }, InputError);
  test::write_file(tmp / "no.gguf", "not a gguf file at all");
  EXPECT_THROW({ GgufFile g(tmp / "no.gguf"); }, InputError);
}

TEST(GgufExport, LlamaCppTensorNames) {
  EXPECT_EQ(gguf_tensor_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(gguf_tensor_name("score.weight"), "cls.output.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.0.input_layernorm.weight"), "blk.0.attn_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.12.self_attn.q_proj.weight"), "blk.12.attn_q.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.self_attn.k_proj.weight"), "blk.1.attn_k.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.self_attn.v_proj.weight"), "blk.1.attn_v.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.self_attn.o_proj.weight"), "blk.1.attn_output.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.self_attn.q_norm.weight"), "blk.1.attn_q_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.self_attn.k_norm.weight"), "blk.1.attn_k_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.post_attention_layernorm.weight"), "blk.1.ffn_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.mlp.gate_proj.weight"), "blk.1.ffn_gate.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.mlp.up_proj.weight"), "blk.1.ffn_up.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.mlp.down_proj.weight"), "blk.1.ffn_down.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.x.mlp.down_proj.weight"), std::nullopt);
  EXPECT_EQ(gguf_tensor_name("model.layers.1.self_attn.q_proj.lora_A.weight"), std::nullopt);
  EXPECT_EQ(gguf_tensor_name("something.else"), std::nullopt);
}

TEST(GgufExport, TinyModelFolderAsLlamaCppQwen3) {
  test::TempDir tmp;
  const std::string tiny = test::fixture("refs/tiny-qwen3");
  const auto r = test::run_qsenti("export --format gguf --model " + tiny + " --type f32 --out " + (tmp / "m.gguf"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  GgufFile f(tmp / "m.gguf");
  EXPECT_EQ(f.at("general.architecture").value, "qwen3");
  EXPECT_EQ(f.at("general.file_type").value, 0);
  EXPECT_EQ(f.at("qwen3.embedding_length").value, 64);
  EXPECT_EQ(f.at("qwen3.block_count").value, 2);
  EXPECT_EQ(f.at("qwen3.feed_forward_length").value, 128);
  EXPECT_EQ(f.at("qwen3.attention.head_count").value, 4);
  EXPECT_EQ(f.at("qwen3.attention.head_count_kv").value, 2);
  EXPECT_EQ(f.at("qwen3.attention.key_length").value, 16);
  EXPECT_EQ(f.at("qwen3.attention.value_length").value, 16);
  EXPECT_EQ(f.at("qwen3.context_length").value, 40960);
  EXPECT_EQ(f.at("qwen3.rope.freq_base").value.get<float>(), 1000000.0f);
  EXPECT_EQ(f.at("qwen3.attention.layer_norm_rms_epsilon").value.get<float>(), 1e-6f);
  EXPECT_FALSE(f.has("qwen3.pooling_type"));  // a causal LM
  EXPECT_EQ(f.at("tokenizer.ggml.model").value, "gpt2");
  EXPECT_EQ(f.at("tokenizer.ggml.pre").value, "qwen2");
  const auto& tokens = f.at("tokenizer.ggml.tokens").value;
  ASSERT_EQ(tokens.size(), 151936u);
  EXPECT_EQ(tokens[151643], "<|endoftext|>");
  EXPECT_EQ(tokens[151935], "[PAD151935]");
  EXPECT_EQ(tokens[220], "Ġ");
  const auto& types = f.at("tokenizer.ggml.token_type").value;
  EXPECT_EQ(types[151643], 3);   // control
  EXPECT_EQ(types[220], 1);      // normal
  EXPECT_EQ(types[151935], 5);   // unused
  EXPECT_GT(f.at("tokenizer.ggml.merges").value.size(), 100000u);
  EXPECT_EQ(f.at("tokenizer.ggml.merges").value[0], "Ġ Ġ");
  EXPECT_EQ(f.at("tokenizer.ggml.eos_token_id").value, 151645);
  EXPECT_EQ(f.at("tokenizer.ggml.bos_token_id").value, 151643);
  EXPECT_EQ(f.at("tokenizer.ggml.padding_token_id").value, 151643);
  EXPECT_EQ(f.at("tokenizer.ggml.add_bos_token").value, false);
  EXPECT_FALSE(f.has("tokenizer.ggml.add_eos_token"));  // a causal LM: the tokenizer config says nothing
  EXPECT_TRUE(f.has("tokenizer.chat_template"));

  // Tied embeddings: no `output`; 2 layers x 11 + embeddings + final norm.
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
  EXPECT_EQ(f.tensors().size(), 24u);
  WeightStore store(tiny);
  EXPECT_TRUE(torch::equal(f.tensor("token_embd.weight"), store.tensor("model.embed_tokens.weight").to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(f.tensor("blk.1.attn_q.weight"),
                           store.tensor("model.layers.1.self_attn.q_proj.weight").to(torch::kFloat32)));
  EXPECT_EQ(f.find_tensor("blk.1.attn_k.weight")->shape, (std::vector<int64_t>{32, 64}));

  // q8_0: matrices quantised, norms kept in f32.
  const auto q = test::run_qsenti("export --format gguf --model " + tiny + " --type q8_0 --out " + (tmp / "q.gguf"), true);
  ASSERT_EQ(q.exit_code, 0) << q.output;
  GgufFile g(tmp / "q.gguf");
  EXPECT_EQ(g.at("general.file_type").value, 7);
  EXPECT_EQ(g.find_tensor("blk.0.ffn_down.weight")->type, 8u);
  EXPECT_EQ(g.find_tensor("blk.0.attn_norm.weight")->type, 0u);
  const torch::Tensor src = store.tensor("model.layers.0.mlp.down_proj.weight").to(torch::kFloat32);
  EXPECT_TRUE(torch::equal(g.tensor("blk.0.ffn_down.weight"), dequantize_q8_0(quantize_q8_0(src)).view(src.sizes())));
}

TEST(GgufExport, ClearUsageErrors) {
  test::TempDir tmp;
  const std::string tiny = test::fixture("refs/tiny-qwen3");
  test::write_file(tmp / "there.gguf", "x");
  auto r = test::run_qsenti("export --format gguf --model " + tiny + " --out " + (tmp / "there.gguf") + " 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("exists"), std::string::npos) << r.output;
  r = test::run_qsenti("export --format gguf --model " + tiny + " --dtype bf16 --out " + (tmp / "a.gguf") + " 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--type"), std::string::npos) << r.output;
  r = test::run_qsenti("export --format gguf --out " + (tmp / "a.gguf") + " 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--run RUN or --model DIR"), std::string::npos) << r.output;
  r = test::run_qsenti("export --format gguf --model " + tmp.path() + " --out " + (tmp / "a.gguf") + " 2>&1");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("config.json"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "a.gguf"));
}

TEST(GgufExport, LoraOnlyAdapterAsLlamaCppLora) {
  // The rsLoRA fixture (r 8, alpha 16, peft CAUSAL_LM, opened as method B):
  // llama.cpp scales by alpha / r, so rsLoRA's alpha / sqrt(r) is written as
  // alpha * sqrt(r).
  test::TempDir tmp;
  const std::string adapter = test::fixture("refs/tiny-qwen3-lora-rs");
  const auto r = test::run_qsenti("export --format gguf --lora-only --type f32 --run " + adapter + " --base " +
                                      test::fixture("refs/tiny-qwen3") + " --out " +
                                      (tmp / "lora.gguf"),
                                  true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  GgufFile f(tmp / "lora.gguf");
  EXPECT_EQ(f.at("general.type").value, "adapter");
  EXPECT_EQ(f.at("general.architecture").value, "qwen3");
  EXPECT_EQ(f.at("adapter.type").value, "lora");
  EXPECT_NEAR(f.at("adapter.lora.alpha").value.get<float>(), 16.0 * std::sqrt(8.0), 1e-4);
  SafetensorsFile st(adapter + "/adapter_model.safetensors");
  EXPECT_EQ(f.tensors().size(), st.entries().size());
  const torch::Tensor a = f.tensor("blk.1.attn_q.weight.lora_a");
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{8, 64}));
  EXPECT_TRUE(torch::equal(a, st.tensor("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight").to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(f.tensor("blk.0.ffn_down.weight.lora_b"),
                           st.tensor("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight").to(torch::kFloat32)));

}

TEST(GgufExport, MethodARunWritesTheModelAndItsHeadBeside) {
  test::TempDir tmp;
  const std::string data = test::write_toy_sentiment_data(tmp, 60);
  auto t = test::run_qsenti("train --method embedding --model " + test::fixture("refs/tiny-qwen3") + " --train " + data +
                                " --epochs 2 --seed 1 --quiet --threads 1 --no-cache --out " + (tmp / "run"),
                            true);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const auto r = test::run_qsenti("export --format gguf --type f16 --run " + (tmp / "run") + " --out " + (tmp / "a.gguf"), true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("a.head.safetensors"), std::string::npos) << r.output;
  GgufFile f(tmp / "a.gguf");
  EXPECT_EQ(f.at("qwen3.pooling_type").value, 3);
  EXPECT_EQ(f.at("qsenti.method").value, "embedding");
  EXPECT_EQ(f.at("qsenti.labels").value, nlohmann::json({"negative", "positive"}));
  EXPECT_EQ(f.find_tensor("cls.output.weight"), nullptr);
  // llama.cpp appends its EOS when add_eos_token is set: the <|endoftext|>
  // the embedder pools, so llama.cpp pools the same token.
  EXPECT_EQ(f.at("tokenizer.ggml.eos_token_id").value, 151643);
  EXPECT_EQ(f.at("tokenizer.ggml.add_eos_token").value, true);
  SafetensorsFile head(tmp / "a.head.safetensors"), orig(tmp / "run/head.safetensors");
  EXPECT_EQ(head.entries().size(), orig.entries().size());
  EXPECT_TRUE(torch::equal(head.tensor("0.weight"), orig.tensor("0.weight")));

  // A method A run has no adapter: --lora-only says so.
  const auto l = test::run_qsenti("export --format gguf --lora-only --run " + (tmp / "run") + " --out " + (tmp / "l.gguf") + " 2>&1");
  EXPECT_EQ(l.exit_code, 2);
  EXPECT_NE(l.output.find("no adapter"), std::string::npos) << l.output;
  EXPECT_FALSE(fs::exists(tmp / "l.gguf"));
}
