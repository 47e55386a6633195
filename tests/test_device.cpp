// Device selection, the compat layer's spellings, the fused attention path
// and the training memory plan: what a GPU run relies on, checked on the CPU.
#include <gtest/gtest.h>

#include "device/device.h"
#include "device/system_info.h"
#include "methods/seqcls_model.h"
#include "model/loading.h"
#include "model/qwen3.h"
#include "test_util.h"
#include "train/memory_plan.h"
#include "train/train_options.h"
#include "util/error.h"
#include "util/torch_compat.h"

using namespace qsenti;

TEST(Device, SpecSyntaxIsCheckedWithoutAGpu) {
  for (const char* ok : {"auto", "cpu", "cuda", "cuda:0", "cuda:7"}) EXPECT_NO_THROW(check_device_spec(ok)) << ok;
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CPU", "cuda0", ""}) {
    try {
      check_device_spec(bad);
      FAIL() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsage);
      EXPECT_NE(std::string(e.what()).find("auto, cpu, cuda, cuda:N"), std::string::npos) << e.what();
    }
  }
}

TEST(Device, AutoIsTheCpuWithoutCudaAndCudaIsRefusedWithTheReason) {
  EXPECT_TRUE(resolve_device("cpu").is_cpu());
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(resolve_device("auto").is_cuda());
    GTEST_SKIP() << "a GPU is visible";
  }
  EXPECT_TRUE(resolve_device("auto").is_cpu());
  try {
    resolve_device("cuda:1");
    FAIL() << "cuda accepted without a GPU";
  } catch (const Error& e) {
    const std::string m = e.what();
#ifdef QSENTI_WITH_CUDA
    EXPECT_NE(m.find("no GPU is visible"), std::string::npos) << m;
#else
    EXPECT_NE(m.find("without CUDA"), std::string::npos) << m;
#endif
  }
}

TEST(Device, CpuGeneratorStateRoundTrips) {
  torch::manual_seed(3);
  torch::Tensor s = generator_state(torch::kCPU);
  torch::Tensor a = torch::rand({5});
  set_generator_state(torch::kCPU, s);
  EXPECT_TRUE(torch::equal(a, torch::rand({5})));
}

TEST(Compat, OptimizerStateKeyIsTheOptimizersOwn) {
  torch::Tensor w = torch::randn({3}, torch::requires_grad());
  torch::optim::AdamW opt({w}, torch::optim::AdamWOptions(0.1));
  (w * w).sum().backward();
  opt.step();
  ASSERT_EQ(opt.state().size(), 1u);
  EXPECT_EQ(opt.state().count(compat::optimizer_state_key(w)), 1u);
}

TEST(Compat, AutocastCastsOnItsDeviceAndRestores) {
  torch::Tensor a = torch::randn({4, 4}), b = torch::randn({4, 4});
  EXPECT_FALSE(compat::autocast_enabled(torch::kCPU));
  {
    compat::Autocast ac(torch::kCPU, true);
    EXPECT_TRUE(compat::autocast_enabled(torch::kCPU));
    EXPECT_EQ(compat::activation_dtype(torch::kCPU, torch::kFloat32), torch::kBFloat16);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_FALSE(compat::autocast_enabled(torch::kCPU));
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
  {
    compat::Autocast off(torch::kCPU, false);
    EXPECT_FALSE(compat::autocast_enabled(torch::kCPU));
  }
}

// Grouped-query attention with an additive mask (one fully masked row), as
// Qwen3Attention calls it: fused against the explicit formula.
TEST(Compat, FusedAttentionMatchesTheExplicitFormula) {
  if (!compat::kHasFusedAttention) GTEST_SKIP() << "LibTorch " << compat::torch_version() << " has no fused attention";
  torch::manual_seed(0);
  const int64_t B = 2, H = 4, KV = 2, T = 5, D = 8;
  torch::Tensor q = torch::randn({B, H, T, D}), k = torch::randn({B, KV, T, D}), v = torch::randn({B, KV, T, D});
  torch::Tensor allowed = torch::ones({B, 1, T, T}, torch::kBool).tril();
  allowed[1][0][0].fill_(false);  // a pad query that sees nothing
  torch::Tensor mask = torch::zeros({B, 1, T, T}).masked_fill(allowed.logical_not(), -1e30);
  const double scale = 1 / std::sqrt(static_cast<double>(D));
  torch::Tensor kk = k.repeat_interleave(H / KV, 1), vv = v.repeat_interleave(H / KV, 1);
  torch::Tensor ref = torch::softmax(torch::matmul(q, kk.transpose(2, 3)) * scale + mask, -1).matmul(vv);
  torch::Tensor got = compat::fused_attention(q, k, v, mask, scale);
  EXPECT_LT(test::max_abs_diff(got, ref), 1e-5);
}

// The plan counts what build_seqcls_model really makes.
TEST(MemoryPlan, CountsTheParametersTheModelHas) {
  test::TempDir dir;
  write_random_model(Qwen3Config::preset("tiny"), dir / "m", 1, torch::kBFloat16);
  for (bool full : {false, true}) {
    TrainOptions o;
    o.model = dir / "m";
    o.full = full;
    o.dtype = "bf16";
    o.lora_r = 4;
    o.lora_alpha = 8;
    o.device = "cpu";
    Qwen3 model = build_seqcls_model(o, 3);
    int64_t trainable = 0;
    uint64_t weight_bytes = 0;
    for (const auto& p : seqcls_trainable_parameters(model, full)) trainable += p.tensor.numel();
    for (const auto& item : model->named_parameters(true)) {
      const bool adapter = item.key().find("lora_") != std::string::npos || item.key().rfind("score.", 0) == 0;
      if (full || !adapter) weight_bytes += item.value().numel() * item.value().element_size();
    }
    MemoryPlanOptions mo;
    mo.full = full;
    mo.lora_r = 4;
    mo.num_labels = 3;
    const MemoryPlan plan = plan_training_memory(model->config, mo);
    EXPECT_EQ(plan.trainable_params, trainable) << (full ? "full" : "lora");
    EXPECT_EQ(plan.weight_bytes, weight_bytes) << (full ? "full" : "lora");
    EXPECT_EQ(plan.optimizer_bytes, static_cast<uint64_t>(trainable) * 8);
  }
}

// The budget: 8B LoRA (r 64, bf16 base, checkpointing, 4 x 256) in
// 24 GB, 4B in 12, 0.6B in 4, by the plan (the GPU check measures them).
TEST(MemoryPlan, RealSizesFitTheirCardsByThePlan) {
  struct Case { const char* preset; int64_t r; double budget_gb; };
  for (const Case& c : {Case{"8B", 64, 24}, Case{"4B", 32, 12}, Case{"0.6B", 16, 4}}) {
    MemoryPlanOptions mo;
    mo.lora_r = c.r;
    mo.grad_checkpointing = true;
    mo.batch = 4;
    mo.seq_len = 256;
    const MemoryPlan plan = plan_training_memory(Qwen3Config::preset(c.preset), mo);
    EXPECT_LT(static_cast<double>(plan.total()) / 1e9, c.budget_gb - 1.5) << c.preset;  // 1.5 GB: CUDA context, workspaces
  }
}

TEST(SystemInfo, ReportsThisBuild) {
  const nlohmann::json j = system_info();
  EXPECT_EQ(j["libtorch"]["version"], compat::torch_version());
  EXPECT_EQ(j["libtorch"]["fused_attention"].get<bool>(), compat::kHasFusedAttention);
#ifdef QSENTI_WITH_CUDA
  EXPECT_TRUE(j["cuda"]["built_with_cuda"].get<bool>());
#else
  EXPECT_FALSE(j["cuda"]["built_with_cuda"].get<bool>());
#endif
  EXPECT_GE(j["cpu"]["cores_available"].get<int>(), 1);
  EXPECT_FALSE(format_system_info(j).empty());
}

TEST(DeviceCli, BadDeviceAndFp16AreRefusedBeforeAnythingLoads) {
  auto r = test::run_qsenti("train --method classifier --model /nonexistent --train /nonexistent --device gpu", true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("auto, cpu, cuda, cuda:N"), std::string::npos) << r.output;
  r = test::run_qsenti("predict --run /nonexistent --text x --dtype fp16", true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("use bf16"), std::string::npos) << r.output;
  r = test::run_qsenti("info --system --json", false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["libtorch"]["version"], compat::torch_version());
}
