// DGMR: spectral normalisation, batch norm, the blocks, the generator and
// the discriminators: shapes and gradient checks (f64, tiny sizes).
//
// Modules with spectral normalisation are gradient-checked in eval mode:
// in training mode each forward first moves u by a power iteration on the
// weight, and the gradient holds u constant by definition (as PyTorch's),
// so finite differences, which see u move with the weight, would differ.
// In eval mode u is fixed and the check is exact; batch norm's training
// path is checked on its own. Biases start at zero, so a conv whose input
// patch is all zeros (after a ReLU) sits exactly on the next ReLU's kink;
// jitter() moves them off it.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/core/context.h"
#include "kiln/models/dgmr/dgmr.h"
#include "support/gradcheck.h"

namespace kiln {
namespace {

using namespace models::dgmr;
using testing::run_module_gradcheck;

constexpr DType kF64 = DType::kF64;

Tensor rand64(IntList shape, Generator& gen) { return testing::random_tensor(shape, kF64, gen); }

// Random biases in [-0.1, 0.1) instead of zeros.
void jitter(nn::Module& module, Generator& gen) {
  NoGradGuard no_grad;
  for (auto& [name, p] : module.named_parameters()) {
    if (name.ends_with("bias")) copy_(p, testing::random_tensor(p.shape(), kF64, gen, -0.1, 0.1));
  }
}

// The smallest generator and discriminators the constraints allow: 32 x 32
// frames, 2 context + 4 lead frames.
DgmrOptions tiny(DType dtype = kF64) {
  return {.context_frames = 2,
          .lead_frames = 4,
          .context_channels = 16,
          .latent_channels = 32,
          .latent_input_channels = 1,
          .discriminator_channels = 2,
          .spatial_frames = 2,
          .spatial_blocks = 3,
          .temporal_blocks = 1,
          .temporal_crop = 16,
          .dtype = dtype};
}

// Tiny shapes gain nothing from threads, and a loaded machine makes every
// parallel region wait: one thread.
struct OneThread {
  Context context{{.num_threads = 1}};
  ContextScope scope{context};
};

TEST(SpectralNorm, ConvergesToTheTopSingularValue) {
  const OneThread one_thread;
  Generator gen(0);
  // A (6, 4) matrix with singular values 5, 2, 1, 0.5: U diag(s) V^T with
  // orthogonal U, V from the QR-free construction of a permuted identity
  // scaled and rotated by a Givens rotation.
  const double c = std::cos(0.3), s = std::sin(0.3);
  std::vector<double> w(24, 0.0);
  const double sv[4] = {5, 2, 1, 0.5};
  for (int i = 0; i < 4; ++i) w[static_cast<size_t>(i * 4 + i)] = sv[i];
  // Rotate rows 0 and 4 (keeps the singular values).
  for (int j = 0; j < 4; ++j) {
    const double a = w[static_cast<size_t>(j)], b = w[static_cast<size_t>(16 + j)];
    w[static_cast<size_t>(j)] = c * a - s * b;
    w[static_cast<size_t>(16 + j)] = s * a + c * b;
  }
  const Tensor weight = from_vector(w, {6, 4}, kF64);
  nn::SpectralNorm sn({.out_features = 4, .dtype = kF64}, gen);
  for (int i = 0; i < 30; ++i) sn.forward(weight);
  EXPECT_NEAR(sn.sigma(weight), 5.0, 1e-6);
  // The normalised weight has spectral norm 1; eval mode leaves u alone.
  sn.eval();
  const std::vector<double> u = to_vector(sn.u());
  const Tensor normalised = sn.forward(weight);
  EXPECT_NEAR(to_vector(normalised)[0] * 5.0, to_vector(weight)[0], 1e-6);
  EXPECT_EQ(to_vector(sn.u()), u);
}

TEST(SpectralNorm, OnePowerIterationPerTrainingForward) {
  const OneThread one_thread;
  Generator gen(1);
  nn::SpectralNorm sn({.out_features = 3, .dtype = kF64}, gen);
  const Tensor weight = rand64({2, 2, 5, 3}, gen);
  const std::vector<double> u0 = to_vector(sn.u());
  sn.forward(weight);
  EXPECT_NE(to_vector(sn.u()), u0);
  EXPECT_NEAR(norm(sn.u()).item<double>(), 1.0, 1e-12);
}

TEST(SpectralNorm, GradientCheck) {
  const OneThread one_thread;
  Generator gen(2);
  nn::SpectralNorm sn({.out_features = 3, .dtype = kF64}, gen);
  const Tensor weight = rand64({3, 4, 3}, gen);
  sn.eval();
  EXPECT_EQ(
      run_module_gradcheck(sn, {weight}, [&](const TensorList& in) { return sn.forward(in[0]); }),
      "");
}

TEST(BatchNorm, TrainsOnBatchStatisticsAndEvaluatesOnRunningOnes) {
  const OneThread one_thread;
  nn::BatchNorm bn({.channels = 2, .momentum = 1.0, .dtype = kF64});
  const Tensor x = from_vector({1, 10, 3, 20, 5, 30}, {3, 2}, kF64);
  const std::vector<double> y = to_vector(bn.forward(x));
  EXPECT_NEAR(y[0] + y[2] + y[4], 0.0, 1e-9);
  bn.eval();
  // momentum 1: the running statistics are the last batch's, so eval
  // reproduces the training output.
  const std::vector<double> e = to_vector(bn.forward(x));
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(e[i], y[i], 1e-4);
  Generator gen(3);
  nn::BatchNorm train_bn({.channels = 3, .dtype = kF64});
  EXPECT_EQ(run_module_gradcheck(train_bn, {rand64({2, 2, 2, 3}, gen)},
                                 [&](const TensorList& in) { return train_bn.forward(in[0]); }),
            "");
}

TEST(DgmrBlocks, DBlockShapesAndGradients) {
  const OneThread one_thread;
  Generator gen(4);
  DBlock block({.in = 2, .out = 3, .block = {.dtype = kF64}}, gen);
  const Tensor x = rand64({2, 4, 4, 2}, gen);
  EXPECT_EQ(block.forward(x).shape(), (Shape{2, 2, 2, 3}));
  block.eval();
  jitter(block, gen);
  EXPECT_EQ(
      run_module_gradcheck(block, {x}, [&](const TensorList& in) { return block.forward(in[0]); }),
      "");
  DBlock same(
      {.in = 3, .out = 3, .first_relu = false, .downsample = false, .block = {.dtype = kF64}}, gen);
  EXPECT_EQ(same.forward(rand64({1, 2, 2, 3}, gen)).shape(), (Shape{1, 2, 2, 3}));
}

TEST(DgmrBlocks, DBlock3dShapesAndGradients) {
  Generator gen(5);
  DBlock block({.in = 2, .out = 2, .rank = 3, .first_relu = false, .block = {.dtype = kF64}}, gen);
  const Tensor x = rand64({1, 4, 4, 4, 2}, gen);  // (N, D, H, W, C)
  EXPECT_EQ(block.forward(x).shape(), (Shape{1, 2, 2, 2, 2}));
  block.eval();
  jitter(block, gen);
  EXPECT_EQ(
      run_module_gradcheck(block, {x}, [&](const TensorList& in) { return block.forward(in[0]); }),
      "");
}

TEST(DgmrBlocks, GBlockShapesAndGradients) {
  const OneThread one_thread;
  Generator gen(6);
  GBlock block({.in = 2, .out = 3, .block = {.dtype = kF64}}, gen);
  GBlock up({.in = 2, .out = 1, .upsample = true, .block = {.dtype = kF64}}, gen);
  const Tensor x = rand64({2, 3, 3, 2}, gen);
  EXPECT_EQ(block.forward(x).shape(), (Shape{2, 3, 3, 3}));
  EXPECT_EQ(up.forward(x).shape(), (Shape{2, 6, 6, 1}));
  block.eval();
  jitter(block, gen);
  up.eval();
  jitter(up, gen);
  EXPECT_EQ(
      run_module_gradcheck(block, {x}, [&](const TensorList& in) { return block.forward(in[0]); }),
      "");
  EXPECT_EQ(run_module_gradcheck(up, {x}, [&](const TensorList& in) { return up.forward(in[0]); }),
            "");
}

TEST(DgmrBlocks, LBlockShapesAndGradients) {
  const OneThread one_thread;
  Generator gen(7);
  LBlock block({.in = 2, .out = 5, .dtype = kF64}, gen);
  const Tensor x = rand64({2, 3, 3, 2}, gen);
  const Tensor y = block.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
  EXPECT_EQ(
      run_module_gradcheck(block, {x}, [&](const TensorList& in) { return block.forward(in[0]); }),
      "");
}

TEST(DgmrBlocks, SpatialAttentionStartsAsIdentityAndHasGradients) {
  const OneThread one_thread;
  Generator gen(8);
  const Tensor x = rand64({2, 3, 2, 8}, gen);
  SpatialAttention identity({.channels = 8, .dtype = kF64}, gen);
  EXPECT_EQ(to_vector(identity.forward(x)), to_vector(x));  // gamma starts at 0
  SpatialAttention attention({.channels = 8, .gamma_init = 0.7, .dtype = kF64}, gen);
  EXPECT_EQ(run_module_gradcheck(attention, {x},
                                 [&](const TensorList& in) { return attention.forward(in[0]); }),
            "");
}

TEST(DgmrBlocks, ConvGruShapesAndGradients) {
  const OneThread one_thread;
  Generator gen(9);
  ConvGru cell({.input_channels = 2, .hidden_channels = 3, .block = {.dtype = kF64}}, gen);
  const Tensor x = rand64({2, 3, 3, 2}, gen), h = rand64({2, 3, 3, 3}, gen);
  EXPECT_EQ(cell.forward(x, h).shape(), h.shape());
  cell.eval();
  jitter(cell, gen);
  EXPECT_EQ(run_module_gradcheck(cell, {x, h},
                                 [&](const TensorList& in) { return cell.forward(in[0], in[1]); }),
            "");
}

TEST(Dgmr, GeneratorShapesAndGradients) {
  const OneThread one_thread;
  Generator gen(10);
  DgmrGenerator g(tiny(DType::kF32), gen);
  const Tensor context = uniform({2, 2, 32, 32, 1}, 0.0, 4.0, gen);
  const Tensor z = g.sample_latent(2, 32, 32, gen);
  EXPECT_EQ(z.shape(), (Shape{2, 1, 1, 1}));
  EXPECT_EQ(g.forward(context, z).shape(), (Shape{2, 4, 32, 32, 1}));
  // The wiring, cheaply (f64 runs the reference kernels): 2 lead frames,
  // one example, one element of 16 tensors spread over the stacks (the
  // blocks are checked in full above).
  DgmrOptions o = tiny();
  o.lead_frames = 2;
  DgmrGenerator small(o, gen);
  small.eval();
  jitter(small, gen);
  EXPECT_EQ(run_module_gradcheck(small,
                                 {testing::random_tensor({1, 2, 32, 32, 1}, kF64, gen, 0.0, 4.0),
                                  small.sample_latent(1, 32, 32, gen)},
                                 [&](const TensorList& in) { return small.forward(in[0], in[1]); },
                                 {.max_elements = 1, .max_tensors = 16}),
            "");
}

TEST(Dgmr, DiscriminatorShapesAndGradients) {
  const OneThread one_thread;
  Generator gen(11);
  // Smaller still: 16 x 16 frames, 4 in a sequence.
  DgmrOptions o = tiny();
  o.spatial_blocks = 2;
  o.temporal_blocks = 0;
  o.temporal_crop = 8;
  SpatialDiscriminator spatial(o, gen);
  TemporalDiscriminator temporal(o, gen);
  const Tensor lead = testing::random_tensor({2, 3, 16, 16, 1}, kF64, gen, 0.0, 4.0);
  const Tensor sequence = testing::random_tensor({2, 4, 16, 16, 1}, kF64, gen, 0.0, 4.0);
  EXPECT_EQ(spatial.forward(lead, gen).shape(), (Shape{2}));
  EXPECT_EQ(temporal.forward(sequence, gen).shape(), (Shape{2}));
  spatial.eval();
  temporal.eval();
  jitter(spatial, gen);
  jitter(temporal, gen);
  EXPECT_EQ(run_module_gradcheck(spatial, {lead},
                                 [&](const TensorList& in) {
                                   return spatial.forward(in[0], {2, 0});
                                 },
                                 {.max_elements = 3}),
            "");
  EXPECT_EQ(
      run_module_gradcheck(temporal, {sequence},
                           [&](const TensorList& in) { return temporal.forward(in[0], 5, 3); },
                           {.max_elements = 3}),
      "");
}

TEST(Dgmr, ModelSamplesLeadFramesAndScoresThem) {
  const OneThread one_thread;
  Generator gen(12);
  Dgmr model(tiny(DType::kF32), gen, std::make_shared<Generator>(13));
  const Tensor frames = uniform({2, 6, 32, 32, 1}, 0.0, 2.0, gen);
  EXPECT_EQ(model.forward(frames).shape(), (Shape{2, 4, 32, 32, 1}));
  const Tensor scores = model.discriminator().forward(narrow(frames, 1, 0, 2),
                                                      narrow(frames, 1, 2, 4), model.noise());
  EXPECT_EQ(scores.shape(), (Shape{2}));
}

TEST(DgmrLosses, HingeAndGridCellRegulariser) {
  const OneThread one_thread;
  const Tensor real = from_vector({2.0, 0.5}, {2}, kF64);
  const Tensor fake = from_vector({-3.0, 0.0}, {2}, kF64);
  // relu(1 - real): 0, 0.5; relu(1 + fake): 0, 1.
  EXPECT_NEAR(hinge_discriminator_loss(real, fake).item<double>(), 0.25 + 0.5, 1e-12);
  EXPECT_NEAR(hinge_generator_loss(fake).item<double>(), 1.5, 1e-12);
  // Truth 0, 2, 30 mm/h: weights clip(y, 0, 24) = 0, 2, 24.
  const Tensor truth = from_vector({0.0, 2.0, 30.0}, {1, 3}, kF64);
  const Tensor samples = from_vector({1.0, 1.0, 28.0, 3.0, 5.0, 30.0}, {2, 1, 3}, kF64);
  // Sample means 2, 3, 29: |error| 2, 1, 1 -> weighted 0, 2, 24.
  EXPECT_NEAR(grid_cell_regulariser(samples, truth).item<double>(), 26.0 / 3.0, 1e-12);
  EXPECT_NEAR(grid_cell_regulariser(samples, truth, 1.0).item<double>(), 28.0 / 3.0, 1e-12);
}

}  // namespace
}  // namespace kiln
