// The DGMR training task: steps in every gan_mode, the regulariser alone
// fits a fixed batch, and a checkpoint round trip restores both models
// (with their spectral-norm vectors), both optimizers and the task state.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "kiln/core/context.h"
#include "kiln/data/dataset.h"
#include "kiln/models/dgmr/dgmr.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/ops/unary.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"
#include "src/train/tasks/dgmr_gan_task.h"

namespace kiln {
namespace {

using models::dgmr::Dgmr;
using models::dgmr::DgmrOptions;

// 32 x 32 frames, 2 context + 4 lead.
DgmrOptions tiny() {
  return {.context_frames = 2,
          .lead_frames = 4,
          .context_channels = 16,
          .latent_channels = 32,
          .latent_input_channels = 1,
          .discriminator_channels = 4,
          .spatial_frames = 2,
          .spatial_blocks = 3,
          .temporal_blocks = 1,
          .temporal_crop = 16};
}

const train::OptimizerConfig kAdam{.name = "adam", .lr = 5e-5, .beta1 = 0.0, .beta2 = 0.999};

std::shared_ptr<Dgmr> tiny_model(uint64_t seed) {
  Generator gen(seed);
  return std::make_shared<Dgmr>(tiny(), gen, std::make_shared<Generator>(seed + 100));
}

// Rain-like frames: non-negative, a few heavy cells.
data::Batch frames_batch(uint64_t seed) {
  Generator gen(seed);
  const Tensor frames = relu(sub(mul_scalar(uniform({8, 6, 32, 32, 1}, 0.0, 1.0, gen), 8.0), 5.0));
  const data::DatasetPtr batches =
      data::batch(data::tensor_dataset(data::TensorMap{{data::kFramesKey, frames}}), 2);
  return batches->get(0);
}

train::DgmrGanOptions gan(const std::string& mode) {
  return {.mode = mode, .base_lr = kAdam.lr, .generator_samples = 2};
}

// Tiny shapes gain nothing from threads, and a loaded machine makes every
// parallel region wait: one thread.
struct OneThread {
  Context context{{.num_threads = 1}};
  ContextScope scope{context};
};

TEST(DgmrGanTask, TakesStepsWithFiniteLossesInEveryMode) {
  const OneThread one_thread;
  const data::Batch batch = frames_batch(0);
  for (const std::string mode : {"gan", "adversarial", "regulariser"}) {
    auto model = tiny_model(1);
    const std::vector<double> disc_before =
        to_vector(model->discriminator().named_parameters().front().second);
    train::DgmrGanTask task(model, kAdam, gan(mode));
    for (int64_t step = 1; step <= 2; ++step) {
      const train::TrainStepResult r = task.train_step(batch, {.step = step, .lr = kAdam.lr});
      EXPECT_TRUE(std::isfinite(r.loss)) << mode;
      EXPECT_TRUE(r.applied) << mode;
      EXPECT_EQ(r.metrics.contains("discriminator_loss"), mode != "regulariser") << mode;
      EXPECT_EQ(r.metrics.contains("grid_cell"), mode != "adversarial") << mode;
    }
    const std::vector<double> disc_after =
        to_vector(model->discriminator().named_parameters().front().second);
    EXPECT_EQ(disc_after == disc_before, mode == "regulariser") << mode;
    model->eval();
    task.eval_begin();
    task.eval_batch(batch);
    const std::map<std::string, double> m = task.eval_end();
    EXPECT_TRUE(m.contains("loss") && m.contains("mae") && m.contains("mae_lead_04")) << mode;
    EXPECT_TRUE(std::isfinite(m.at("mae"))) << mode;
  }
}

TEST(DgmrGanTask, RegulariserAloneFitsAFixedBatch) {
  const OneThread one_thread;
  const data::Batch batch = frames_batch(2);
  auto model = tiny_model(3);
  train::DgmrGanOptions o = gan("regulariser");
  o.generator_lr = 1e-2;
  train::DgmrGanTask task(model, kAdam, o);
  // Adam with beta1 = 0 first moves every weight by lr (a sign step), which
  // shifts the outputs: measure the descent from the loss after it.
  double second = 0, last = 0;
  for (int64_t step = 1; step <= 12; ++step) {
    const double loss = task.train_step(batch, {.step = step, .lr = kAdam.lr}).loss;
    if (step == 2) second = loss;
    last = loss;
  }
  EXPECT_LT(last, second * 0.95);
}

TEST(DgmrGanTask, CheckpointRoundTripRestoresModelsOptimizersAndSpectralNorm) {
  const OneThread one_thread;
  const data::Batch batch = frames_batch(4);
  auto model = tiny_model(5);
  train::DgmrGanTask task(model, kAdam, gan("gan"));
  for (int64_t step = 1; step <= 2; ++step) task.train_step(batch, {.step = step, .lr = kAdam.lr});

  const std::string dir =
      (std::filesystem::temp_directory_path() / "kiln_dgmr_task_checkpoint").string();
  std::filesystem::remove_all(dir);
  train::Checkpoint saved{.step = 2, .state = {{"task", task.state()}}};
  for (auto& [name, module] : task.modules()) saved.groups[name] = module->state_dict();
  for (auto& [name, opt] : task.optimizers()) saved.groups[name] = opt->state_dict();
  ASSERT_TRUE(train::CheckpointManager(dir, 1).save(saved).ok());
  const absl::StatusOr<train::Checkpoint> loaded = train::CheckpointManager(dir, 1).load_latest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();

  // A fresh task from another initialisation, restored.
  auto other = tiny_model(6);
  train::DgmrGanTask resumed(other, kAdam, gan("gan"));
  auto as_map = [](const nn::NamedTensors& t) {
    return std::map<std::string, Tensor>(t.begin(), t.end());
  };
  for (auto& [name, module] : resumed.modules()) {
    ASSERT_TRUE(module->load_state_dict(as_map(loaded->groups.at(name))).ok()) << name;
  }
  for (auto& [name, opt] : resumed.optimizers()) {
    ASSERT_TRUE(opt->load_state_dict(as_map(loaded->groups.at(name))).ok()) << name;
  }
  ASSERT_TRUE(resumed.load_state(loaded->state.at("task")).ok());
  std::filesystem::remove_all(dir);

  // Every tensor, the spectral-norm vectors and batch-norm statistics
  // included, is back exactly.
  const nn::NamedTensors want = model->state_dict(), got = other->state_dict();
  ASSERT_EQ(want.size(), got.size());
  int64_t u_vectors = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(to_vector(got[i].second), to_vector(want[i].second)) << want[i].first;
    if (want[i].first.ends_with(".sn.u")) ++u_vectors;
  }
  EXPECT_GT(u_vectors, 20);
  auto optimizers = task.optimizers(), resumed_optimizers = resumed.optimizers();
  for (size_t k = 0; k < optimizers.size(); ++k) {
    const nn::NamedTensors a = optimizers[k].second->state_dict();
    const nn::NamedTensors b = resumed_optimizers[k].second->state_dict();
    ASSERT_EQ(a.size(), b.size());
    EXPECT_GT(a.size(), 0u);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(to_vector(a[i].second), to_vector(b[i].second)) << a[i].first;
    }
  }
  // With the same noise, the next step is the same, bit for bit.
  other->noise().set_state(model->noise().seed(), model->noise().offset());
  const double a = task.train_step(batch, {.step = 3, .lr = kAdam.lr}).loss;
  const double b = resumed.train_step(batch, {.step = 3, .lr = kAdam.lr}).loss;
  EXPECT_EQ(a, b);
  EXPECT_EQ(to_vector(other->generator().named_parameters().back().second),
            to_vector(model->generator().named_parameters().back().second));
}

TEST(DgmrGanTask, BuiltFromTheConfigAndNeedsADgmr) {
  const OneThread one_thread;
  train::ExperimentConfig config;
  config.task.name = "dgmr_gan";
  config.task.generator_samples = 2;
  config.optimizer = kAdam;
  auto model = tiny_model(7);
  std::unique_ptr<train::Task> task =
      train::build_task(config, model, train::build_optimizer(kAdam, model->named_parameters()));
  EXPECT_EQ(task->optimizers().size(), 2u);
  EXPECT_EQ(task->modules().size(), 1u);
  EXPECT_THROW(train::DgmrGanTask(nullptr, kAdam, gan("gan")), Error);
}

TEST(DgmrRegistry, BuildsTheSmallModelWithOverridesAndChecksThem) {
  const OneThread one_thread;
  Generator gen(0);
  const train::ModelContext context{.init_gen = &gen,
                                    .dropout_gen = std::make_shared<Generator>(1)};
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      train::build_model("dgmr_small", {{"lead_frames", 3}}, context, "test.json");
  ASSERT_TRUE(model.ok()) << model.status();
  auto* dgmr = dynamic_cast<Dgmr*>(model->get());
  ASSERT_NE(dgmr, nullptr);
  EXPECT_EQ(dgmr->options().lead_frames, 3);
  EXPECT_EQ(dgmr->options().context_channels, 32);
  EXPECT_EQ((*model)->children().size(), 2u);  // generator, discriminator
  const absl::StatusOr<std::shared_ptr<models::Model>> bad =
      train::build_model("dgmr_small", {{"context_channels", 36}}, context, "test.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("context_channels"), std::string::npos);
  EXPECT_FALSE(train::build_model("dgmr_small", {{"lead_frame", 3}}, context, "test.json").ok());
}

}  // namespace
}  // namespace kiln
