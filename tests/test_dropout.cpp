// The LoRA dropout mask: its rate, its values, its seeding, and a LoRA layer
// in training mode that drops inputs as x * mask / (1 - p).
#include <gtest/gtest.h>

#include "model/dropout.h"
#include "model/linear.h"

namespace qsenti {
namespace {

TEST(DropoutMask, RateValuesAndSeed) {
  for (double p : {0.05, 0.1, 0.5}) {
    torch::manual_seed(7);
    torch::Tensor x = torch::ones({1000, 1001}, torch::kBFloat16);  // numel not a multiple of 3
    torch::Tensor m = dropout_keep_mask(x, p);
    EXPECT_EQ(m.sizes(), x.sizes());
    EXPECT_EQ(m.scalar_type(), torch::kBFloat16);
    EXPECT_TRUE(((m == 0) | (m == 1)).all().item<bool>());
    // 1e6 Bernoulli draws: the standard error of the rate is below 5e-4.
    const double dropped = 1.0 - m.to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(dropped, p, 2.5e-3) << p;
    // Each of the three words a draw provides is unbiased too.
    torch::Tensor cols = m.flatten().narrow(0, 0, 999999).view({-1, 3}).to(torch::kFloat64);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(1.0 - cols.select(1, c).mean().item<double>(), p, 4e-3) << p << "/" << c;
    torch::manual_seed(7);
    EXPECT_TRUE(torch::equal(dropout_keep_mask(x, p), m));
    EXPECT_FALSE(torch::equal(dropout_keep_mask(x, p), m));  // the generator moved on
  }
}

TEST(DropoutMask, LoraLayerDropsItsInputOnlyInTraining) {
  torch::manual_seed(1);
  Linear lin(64, 32, false);
  LoraSpec spec;
  spec.r = 4;
  spec.alpha = 8;
  spec.dropout = 0.25;
  lin->add_lora(spec);
  torch::NoGradGuard ng;
  // The base weight starts uninitialised (loaders fill it): whatever memory it
  // got, huge values would drown the adapter's share and the last check.
  lin->weight.normal_(0.0, 0.1);
  lin->lora_B->weight.normal_();
  torch::Tensor x = torch::randn({16, 64});
  const double scaling = 8.0 / 4;
  torch::Tensor delta = torch::matmul(lin->lora_B->weight, lin->lora_A->weight) * scaling;
  torch::Tensor base = torch::linear(x, lin->weight);
  lin->eval();
  torch::Tensor plain = lin->forward(x);
  EXPECT_TRUE(torch::allclose(plain, base + torch::linear(x, delta), 1e-5, 1e-5));
  // In training, with the same seed: the adapter sees x * mask / (1 - p).
  lin->train();
  torch::manual_seed(3);
  torch::Tensor dropped = lin->forward(x);
  torch::manual_seed(3);
  torch::Tensor mask = dropout_keep_mask(x, 0.25);
  torch::Tensor expected = base + torch::linear(x * mask / 0.75, delta);
  EXPECT_TRUE(torch::allclose(dropped, expected, 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(dropped, plain, 1e-3, 1e-3));
}

}  // namespace
}  // namespace qsenti
