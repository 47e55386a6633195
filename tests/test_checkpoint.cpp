// Safetensors and model-folder handling: round trips, shards, and a clear
// error (never a crash) for every kind of malformed checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "io/weight_store.h"
#include "model/config.h"
#include "model/loading.h"
#include "test_util.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

using test::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Builds a raw safetensors file from a header string and a data blob.
std::string raw_file(const std::string& header, const std::string& data, int64_t header_len = -1) {
  uint64_t len = header_len < 0 ? header.size() : static_cast<uint64_t>(header_len);
  std::string out(reinterpret_cast<const char*>(&len), 8);
  return out + header + data;
}

// Expects InputError whose message contains every fragment.
template <typename F>
void expect_input_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL() << "no error thrown";
  } catch (const InputError& e) {
    for (const auto& frag : fragments) EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RoundTripKeepsDtypesShapesAndValues) {
  TempDir dir;
  std::map<std::string, torch::Tensor> t{{"a", torch::randn({3, 5})},
                                         {"b", torch::randn({7}).to(torch::kBFloat16)},
                                         {"c", torch::arange(6, torch::kInt64).reshape({2, 3})},
                                         {"empty", torch::zeros({0, 4})}};
  save_safetensors(dir / "x.safetensors", t, {{"format", "pt"}, {"note", "hi"}});
  SafetensorsFile f(dir / "x.safetensors");
  EXPECT_EQ(f.metadata().at("note"), "hi");
  for (const auto& [name, ref] : t) {
    torch::Tensor got = f.tensor(name);
    EXPECT_EQ(got.scalar_type(), ref.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), ref.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, ref)) << name;
  }
  // Data section starts 8-byte aligned, as Hugging Face writes it.
  uint64_t header_len = 0;
  std::string bytes = read_all(dir / "x.safetensors");
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
  // No temporary file left behind.
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename(), "x.safetensors");
}

TEST(Safetensors, ReadsTheReferenceModelZeroCopy) {
  SafetensorsFile f(test::fixture("refs/tiny-qwen3/model.safetensors"));
  torch::Tensor emb = f.tensor("model.embed_tokens.weight");
  EXPECT_EQ(emb.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(emb.sizes(), (std::vector<int64_t>{151936, 64}));
  torch::Tensor again = f.tensor("model.embed_tokens.weight");
  EXPECT_EQ(emb.data_ptr(), again.data_ptr()) << "tensors should view the mapping, not copy it";
}

TEST(Safetensors, MalformedFilesGiveClearErrors) {
  TempDir dir;
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string data(16, '\0');
  auto write = [&](const std::string& name, const std::string& bytes) {
    test::write_file(dir / name, bytes);
    return dir / name;
  };
  SafetensorsFile ok(write("ok.st", raw_file(good_header, data)));
  EXPECT_EQ(ok.entry("w").numel(), 4);

  expect_input_error([&] { SafetensorsFile f(write("tiny.st", "abc")); }, {"tiny.st", "truncated"});
  expect_input_error([&] { SafetensorsFile f(write("len.st", raw_file(good_header, data, 1 << 20))); },
                     {"len.st", "past the end"});
  expect_input_error([&] { SafetensorsFile f(write("json.st", raw_file(R"({"w": {"dtype": )", data))); },
                     {"json.st", "not valid JSON"});
  expect_input_error(
      [&] { SafetensorsFile f(write("dtype.st", raw_file(R"({"w":{"dtype":"F7","shape":[2,2],"data_offsets":[0,16]}})", data))); },
      {"dtype.st", "\"w\"", "unsupported dtype"});
  expect_input_error(
      [&] { SafetensorsFile f(write("span.st", raw_file(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", data))); },
      {"span.st", "\"w\"", "24 bytes", "16"});
  expect_input_error(
      [&] { SafetensorsFile f(write("trunc.st", raw_file(good_header, data.substr(0, 10)))); },
      {"trunc.st", "\"w\"", "past the end"});
  expect_input_error(
      [&] {
        SafetensorsFile f(write("overlap.st", raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                                       data)));
      },
      {"overlap.st", "overlap"});
  expect_input_error(
      [&] { SafetensorsFile f(write("neg.st", raw_file(R"({"w":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", data))); },
      {"neg.st", "\"w\""});
  expect_input_error([&] { SafetensorsFile f(write("arr.st", raw_file("[1,2]", data))); }, {"arr.st", "not a JSON object"});
  expect_input_error([&] { SafetensorsFile f(dir / "missing.st"); }, {"missing.st", "cannot open"});
}

// A copy of the reference model folder whose weights file we can damage.
std::string copy_model(const TempDir& dir, const std::string& name) {
  const std::string out = dir / name;
  fs::create_directories(out);
  fs::copy_file(test::fixture("refs/tiny-qwen3/config.json"), out + "/config.json");
  fs::copy_file(test::fixture("refs/tiny-qwen3/model.safetensors"), out + "/model.safetensors");
  return out;
}

TEST(ModelFolder, MissingTensorAndWrongShapeAreNamed) {
  TempDir dir;
  const std::string m = copy_model(dir, "m");
  SafetensorsFile src(test::fixture("refs/tiny-qwen3/model.safetensors"));
  // Drop one tensor.
  {
    std::map<std::string, torch::Tensor> t;
    for (const auto& kv : src.entries())
      if (kv.first != "model.layers.1.mlp.up_proj.weight") t[kv.first] = src.tensor(kv.first);
    save_safetensors(dir / "dropped.safetensors", t);
  }
  fs::copy_file(dir / "dropped.safetensors", m + "/model.safetensors", fs::copy_options::overwrite_existing);
  expect_input_error([&] { load_qwen3(m); }, {"model.layers.1.mlp.up_proj.weight", "lacks"});
  // Wrong shape.
  {
    std::map<std::string, torch::Tensor> t;
    for (const auto& kv : src.entries()) t[kv.first] = src.tensor(kv.first);
    t["model.layers.0.self_attn.k_norm.weight"] = torch::ones({17});
    save_safetensors(dir / "shape.safetensors", t);
  }
  fs::copy_file(dir / "shape.safetensors", m + "/model.safetensors", fs::copy_options::overwrite_existing);
  expect_input_error([&] { load_qwen3(m); }, {"model.safetensors", "k_norm", "[17]", "[16]"});
  // Truncated file.
  std::string bytes = read_all(test::fixture("refs/tiny-qwen3/model.safetensors"));
  test::write_file(m + "/model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_input_error([&] { load_qwen3(m); }, {"model.safetensors", "truncated"});
  // No weights at all.
  fs::remove(m + "/model.safetensors");
  expect_input_error([&] { load_qwen3(m); }, {"no model.safetensors"});
  // The CLI reports it with the bad-input exit code, without crashing.
  auto r = test::run_qsenti("info " + m, true);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("no model.safetensors"), std::string::npos) << r.output;
}

TEST(ModelFolder, ShardedCheckpointLoadsLikeTheSingleFile) {
  TempDir dir;
  Qwen3 single = load_qwen3(test::fixture("refs/tiny-qwen3"));
  // ~19 MB of weights in shards of at most 8 MB → embeddings alone, then the rest.
  save_qwen3(single, dir / "sharded", torch::kBFloat16, 8ull << 20);
  ASSERT_TRUE(fs::exists(dir / "sharded/model.safetensors.index.json"));
  ASSERT_TRUE(fs::exists(dir / "sharded/model-00001-of-00002.safetensors"));
  Qwen3 sharded = load_qwen3(dir / "sharded");
  auto a = single->named_parameters(), b = sharded->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  // An index naming a missing shard is an error that names it.
  fs::remove(dir / "sharded/model-00002-of-00002.safetensors");
  expect_input_error([&] { WeightStore s(dir / "sharded"); }, {"model-00002-of-00002.safetensors", "missing"});
}

TEST(ModelFolder, EmbeddingModelLayoutWithoutModelPrefixLoads) {
  // Qwen3-Embedding checkpoints are saved from Qwen3Model: names lack "model.".
  TempDir dir;
  const std::string m = dir / "emb";
  fs::create_directories(m);
  fs::copy_file(test::fixture("refs/tiny-qwen3/config.json"), m + "/config.json");
  SafetensorsFile src(test::fixture("refs/tiny-qwen3/model.safetensors"));
  std::map<std::string, torch::Tensor> t;
  for (const auto& kv : src.entries()) t[kv.first.substr(6)] = src.tensor(kv.first);
  save_safetensors(m + "/model.safetensors", t);
  Qwen3 a = load_qwen3(test::fixture("refs/tiny-qwen3"));
  Qwen3 b = load_qwen3(m);
  EXPECT_TRUE(torch::equal(a->model->layers[1]->as<Qwen3DecoderLayerImpl>()->mlp->up_proj->weight,
                           b->model->layers[1]->as<Qwen3DecoderLayerImpl>()->mlp->up_proj->weight));
}

TEST(Config, HeadDimComesFromTheConfigAndUnsupportedFeaturesAreRefused) {
  nlohmann::json j = test::read_json(test::fixture("refs/tiny-qwen3/config.json"));
  j["head_dim"] = 128;  // as Qwen3-0.6B: not hidden/heads
  Qwen3Config c = Qwen3Config::from_json(j, "cfg");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.q_dim(), 4 * 128);
  auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& frag) {
    nlohmann::json k = test::read_json(test::fixture("refs/tiny-qwen3/config.json"));
    edit(k);
    expect_input_error([&] { Qwen3Config::from_json(k, "cfg.json"); }, {"cfg.json", frag});
  };
  refused([](nlohmann::json& k) { k["model_type"] = "qwen3_moe"; }, "mixture-of-experts");
  refused([](nlohmann::json& k) { k["use_sliding_window"] = true; }, "sliding");
  refused([](nlohmann::json& k) { k["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}}; }, "rope_scaling");
  refused([](nlohmann::json& k) { k["hidden_act"] = "gelu"; }, "gelu");
  refused([](nlohmann::json& k) { k["num_key_value_heads"] = 3; }, "multiple");
  refused([](nlohmann::json& k) { k["hidden_size"] = "big"; }, "hidden_size");
}

TEST(Config, PresetsHaveTheRealShapes) {
  auto p06 = Qwen3Config::preset("0.6B");
  EXPECT_EQ(p06.hidden_size, 1024);
  EXPECT_EQ(p06.head_dim, 128);
  EXPECT_EQ(p06.num_hidden_layers, 28);
  EXPECT_TRUE(p06.tie_word_embeddings);
  // Qwen3-0.6B: 596M parameters with the tied head counted once.
  EXPECT_NEAR(p06.parameter_count() / 1e6, 596.0, 1.0);
  auto p4 = Qwen3Config::preset("4B");
  EXPECT_NEAR(p4.parameter_count() / 1e9, 4.02, 0.01);
  auto p8 = Qwen3Config::preset("8B");
  EXPECT_FALSE(p8.tie_word_embeddings);
  EXPECT_NEAR(p8.parameter_count() / 1e9, 8.19, 0.01);
}

TEST(Init, RandomModelRoundTripsThroughTheCli) {
  TempDir dir;
  auto r = test::run_qsenti("init --preset tiny --out " + (dir / "tiny") + " --seed 7", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"})
    EXPECT_TRUE(fs::exists(dir / (std::string("tiny/") + f))) << f;
  Qwen3 m = load_qwen3(dir / "tiny");
  EXPECT_EQ(m->config.hidden_size, 128);
  EXPECT_EQ(m->config.num_hidden_layers, 4);
  // Same seed, same weights; another seed, other weights (and another identity).
  ASSERT_EQ(test::run_qsenti("init --preset tiny --out " + (dir / "again") + " --seed 7").exit_code, 0);
  ASSERT_EQ(test::run_qsenti("init --preset tiny --out " + (dir / "other") + " --seed 8").exit_code, 0);
  EXPECT_EQ(read_all(dir / "tiny/model.safetensors"), read_all(dir / "again/model.safetensors"));
  EXPECT_EQ(model_fingerprint(dir / "tiny"), model_fingerprint(dir / "again"));
  EXPECT_NE(model_fingerprint(dir / "tiny"), model_fingerprint(dir / "other"));
  auto info = test::run_qsenti("info --json " + (dir / "tiny"));
  ASSERT_EQ(info.exit_code, 0);
  auto j = nlohmann::json::parse(info.output);
  EXPECT_EQ(j["parameters"].get<int64_t>(), Qwen3Config::preset("tiny").parameter_count());
  EXPECT_EQ(j["dtype"], "bf16");
}

TEST(ForwardCommand, PrintsTheReferenceNumbers) {
  const auto ref = test::read_json(test::fixture("refs/tiny-qwen3/reference_fp32.json"))["runs"]["unpadded"][1];
  const auto inputs = test::read_json(test::fixture("refs/inputs.json"));
  std::string ids;
  for (auto id : inputs["sequences"][1]) ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int64_t>());
  auto r = test::run_qsenti("forward --model " + test::fixture("refs/tiny-qwen3") + " --ids " + ids +
                            " --probe-ids 0,1,100,151643,151644");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = nlohmann::json::parse(r.output);
  EXPECT_LE(test::max_abs_diff(test::json_tensor(out["last_hidden_state"]), test::json_tensor(ref["last_hidden_state"])), 1e-4);
  EXPECT_NEAR(out["logsumexp_last"].get<double>(), ref["last_token"]["logsumexp"].get<double>(), 1e-4);
  EXPECT_LE(test::max_abs_diff(test::json_tensor(out["probe_logits_last"]), test::json_tensor(ref["last_token"]["probe_logits"])), 1e-4);
  EXPECT_LE(test::max_abs_diff(test::json_tensor(out["per_token_nll"]), test::json_tensor(ref["per_token_nll"])), 1e-4);
  EXPECT_LE(test::max_abs_diff(test::json_tensor(out["embedding_l2"]), test::json_tensor(ref["embedding_last_token_l2"])), 1e-4);
  EXPECT_FALSE(out.contains("score_logits_last"));
  // Bad ids are a usage error, not a crash.
  EXPECT_EQ(test::run_qsenti("forward --model " + test::fixture("refs/tiny-qwen3") + " --ids 1,x", true).exit_code, 2);
  EXPECT_EQ(test::run_qsenti("forward --model " + test::fixture("refs/tiny-qwen3") + " --ids 999999", true).exit_code, 2);
}

}  // namespace
}  // namespace qsenti
