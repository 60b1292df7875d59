// The simclr task: NT-Xent on two views through one model.
#include <gtest/gtest.h>

#include "kiln/data/dataset.h"
#include "kiln/models/slowfast_nfnet/slowfast_nfnet.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "src/train/builders.h"
#include "src/train/tasks/tasks.h"

namespace kiln::train {
namespace {

std::shared_ptr<models::SlowFastNFNet> tiny_simclr_model() {
  models::SlowFastNFNetOptions o = models::slowfast_nfnet_preset("tiny");
  o.projection = {16, 8};
  Generator gen(0);
  return std::make_shared<models::SlowFastNFNet>(o, gen, nullptr);
}

// Two noisy views (B, T, F, 1) of B random spectrograms.
data::Batch view_pairs(int64_t b, uint64_t seed) {
  Generator gen(seed);
  const Tensor clean = normal({b, 8, 8, 1}, 0, 1, gen);
  return {{"view1", add(clean, normal(clean.shape(), 0, 0.3, gen))},
          {"view2", add(clean, normal(clean.shape(), 0, 0.3, gen))}};
}

TEST(SimClrTask, LowersTheLossOnAFixedBatch) {
  auto model = tiny_simclr_model();
  SimClrTask task(model, build_optimizer({.name = "adam", .lr = 5e-3}, model->named_parameters()),
                  3, {.temperature = 0.2});
  const data::Batch batch = view_pairs(6, 1);
  const TrainStepResult first = task.train_step(batch, {.step = 1, .lr = 5e-3});
  EXPECT_EQ(first.examples, 6);
  ASSERT_TRUE(first.metrics.count("contrastive_accuracy"));
  double last = first.loss;
  for (int64_t step = 2; step <= 15; ++step) {
    last = task.train_step(batch, {.step = step, .lr = 5e-3}).loss;
  }
  EXPECT_LT(last, first.loss - 0.3) << "from " << first.loss;

  model->eval();
  task.eval_begin();
  task.eval_batch(batch);
  const auto metrics = task.eval_end();
  ASSERT_TRUE(metrics.count("loss") && metrics.count("contrastive_accuracy"));
  EXPECT_GT(metrics.at("contrastive_accuracy"), 0.5);
  EXPECT_EQ(task.eval_totals()[2], 12.0);  // 2B anchors
}

TEST(SimClrTask, NeedsBothViews) {
  auto model = tiny_simclr_model();
  SimClrTask task(model, build_optimizer({.name = "adam"}, model->named_parameters()), 3, {});
  data::Batch batch = view_pairs(2, 1);
  batch.erase("view2");
  EXPECT_THROW(task.train_step(batch, {.step = 1, .lr = 1e-3}), Error);
}

}  // namespace
}  // namespace kiln::train
