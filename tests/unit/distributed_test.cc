// Data-parallel pieces that run in one process: post-accumulate gradient
// hooks, GradientSync's buckets and averaging (against a single process and
// a simulated second rank), and the sharding of global batches across ranks.
// The MPI communicator itself is tested end to end (tests/e2e/mpi_e2e_test.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kiln/autograd/engine.h"
#include "kiln/autograd/hooks.h"
#include "kiln/kiln.h"
#include "kiln/train/distributed.h"
#include "kiln/train/experiment_config.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

Tensor leaf(std::vector<float> values, IntList shape) {
  return from_vector(values, shape).set_requires_grad(true);
}

// ---- post-accumulate gradient hooks ----

TEST(PostAccumulateGradHook, RunsOnceAfterEveryPathWasSummed) {
  Tensor x = leaf({2.0f}, {1});
  std::vector<float> seen;
  auto handle = autograd::register_post_accumulate_grad_hook(
      x, [&](const Tensor& t) { seen.push_back(t.grad().item<float>()); });
  // Two paths to x: d/dx (x^2 + 3x) = 2x + 3 = 7.
  add(square(x), mul_scalar(x, 3.0)).backward(ones({1}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FLOAT_EQ(seen[0], 7.0f);
  // A second backward accumulates, then calls the hook with the sum.
  add(square(x), mul_scalar(x, 3.0)).backward(ones({1}));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FLOAT_EQ(seen[1], 14.0f);
}

TEST(PostAccumulateGradHook, SeesGraphsRecordedBeforeItWasRegistered) {
  Tensor x = leaf({1.0f, 2.0f}, {2});
  Tensor y = sum(mul_scalar(x, 2.0));  // recorded first
  int calls = 0;
  auto handle = autograd::register_post_accumulate_grad_hook(x, [&](const Tensor&) { ++calls; });
  y.backward();
  EXPECT_EQ(calls, 1);
}

TEST(PostAccumulateGradHook, MayModifyTheGradientInPlace) {
  Tensor x = leaf({1.0f, 2.0f}, {2});
  auto handle = autograd::register_post_accumulate_grad_hook(
      x, [](const Tensor& t) { t.grad().data<float>()[0] = 42.0f; });
  sum(mul_scalar(x, 2.0)).backward();
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>{42, 2}));
}

TEST(PostAccumulateGradHook, RemovedWhenTheHandleGoes) {
  Tensor x = leaf({1.0f}, {1});
  int first = 0, second = 0;
  auto a = autograd::register_post_accumulate_grad_hook(x, [&](const Tensor&) { ++first; });
  {
    auto b = autograd::register_post_accumulate_grad_hook(x, [&](const Tensor&) { ++second; });
    sum(x).backward();
  }
  sum(x).backward();
  EXPECT_EQ(first, 2);
  EXPECT_EQ(second, 1);
  a.reset();
  EXPECT_FALSE(a.active());
  sum(x).backward();
  EXPECT_EQ(first, 2);
  // Moving a handle moves the registration.
  auto c = autograd::register_post_accumulate_grad_hook(x, [&](const Tensor&) { ++first; });
  autograd::PostAccumulateGradHookHandle d = std::move(c);
  sum(x).backward();
  EXPECT_EQ(first, 3);
}

TEST(PostAccumulateGradHook, NotCalledByGradWhichAccumulatesNothing) {
  Tensor x = leaf({3.0f}, {1});
  int calls = 0;
  auto handle = autograd::register_post_accumulate_grad_hook(x, [&](const Tensor&) { ++calls; });
  TensorList g = autograd::grad({square(x)}, {ones({1})}, {x});
  EXPECT_FLOAT_EQ(g[0].item<float>(), 6.0f);
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(x.grad().defined());
}

TEST(PostAccumulateGradHook, OnlyOnLeavesThatRequireGrad) {
  Tensor x = leaf({1.0f}, {1});
  Tensor y = mul_scalar(x, 2.0);
  EXPECT_THROW((void)autograd::register_post_accumulate_grad_hook(y, [](const Tensor&) {}), Error);
  EXPECT_THROW((void)autograd::register_post_accumulate_grad_hook(ones({1}), [](const Tensor&) {}),
               Error);
}

// ---- GradientSync ----

// Parameters of sizes 4, 6 and 2 (f32), named in registration order.
nn::NamedTensors three_params() {
  return {{"a", zeros({4}).set_requires_grad(true)},
          {"b", zeros({2, 3}).set_requires_grad(true)},
          {"c", zeros({2}).set_requires_grad(true)}};
}

// loss = sum_i w_i * p_i over the given parameters, so grad(p) = w.
void backward_with_weights(const nn::NamedTensors& params, const std::vector<int>& used) {
  Tensor loss = zeros({});
  for (int i : used) {
    const Tensor& p = params[static_cast<size_t>(i)].second;
    const Tensor w = add_scalar(arange(p.numel(), DType::kF32), 10.0 * (i + 1));
    loss = add(loss, sum(mul(reshape(p, {p.numel()}), w)));
  }
  loss.backward();
}

std::vector<double> expected_grad(const nn::NamedTensors& params, int i) {
  std::vector<double> out;
  for (int64_t k = 0; k < params[static_cast<size_t>(i)].second.numel(); ++k) {
    out.push_back(10.0 * (i + 1) + static_cast<double>(k));
  }
  return out;
}

TEST(GradientSync, PacksBucketsInReverseOrderUpToTheSize) {
  SingleProcessCommunicator comm;
  const nn::NamedTensors params = three_params();
  // 8 floats (32 bytes) per bucket: c (2) + b (6) fill the first, a (4)
  // would overflow it and opens the second.
  GradientSync sync(comm, params, {.bucket_bytes = 32});
  ASSERT_EQ(sync.num_buckets(), 2);
  EXPECT_EQ(sync.bucket_names(0), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(sync.bucket_names(1), (std::vector<std::string>{"a"}));
  GradientSync one_each(comm, params, {.bucket_bytes = 4});
  EXPECT_EQ(one_each.num_buckets(), 3);
  GradientSync all(comm, params);
  ASSERT_EQ(all.num_buckets(), 1);
  EXPECT_EQ(all.bucket_names(0), (std::vector<std::string>{"c", "b", "a"}));
}

TEST(GradientSync, SkipsFrozenAndRepeatedParametersAndRejectsBf16Ones) {
  SingleProcessCommunicator comm;
  Tensor tied = zeros({3}).set_requires_grad(true);
  GradientSync sync(comm, {{"frozen", zeros({3})}, {"w", tied}, {"w_tied", tied}});
  ASSERT_EQ(sync.num_buckets(), 1);
  EXPECT_EQ(sync.bucket_names(0), (std::vector<std::string>{"w_tied"}));
  // Averaging bf16 gradients would lose precision; mixed precision keeps f32
  // master weights, so a bf16 trainable parameter is a configuration error.
  Tensor half = zeros({2}, DType::kBF16).set_requires_grad(true);
  EXPECT_THROW(GradientSync(comm, {{"h", half}}), Error);
}

TEST(GradientSync, OneProcessLeavesGradientsAsTheyAre) {
  SingleProcessCommunicator comm;
  const nn::NamedTensors params = three_params();
  GradientSync sync(comm, params, {.bucket_bytes = 4});
  backward_with_weights(params, {0, 2});  // b gets no gradient
  EXPECT_TRUE(sync.pending());
  sync.synchronize();
  EXPECT_FALSE(sync.pending());
  EXPECT_EQ(to_vector(params[0].second.grad()), expected_grad(params, 0));
  EXPECT_FALSE(params[1].second.grad().defined());
  EXPECT_EQ(to_vector(params[2].second.grad()), expected_grad(params, 2));
  // Bucket 0 (c) was complete and sent during backward; bucket 1 (b) never
  // completes, so it and bucket 2 (a) behind it wait for synchronize().
  EXPECT_EQ(sync.buckets_started_early(), 1);
}

TEST(GradientSync, StartsEveryBucketDuringBackwardWhenAllGradientsArrive) {
  SingleProcessCommunicator comm;
  const nn::NamedTensors params = three_params();
  GradientSync sync(comm, params, {.bucket_bytes = 4});
  backward_with_weights(params, {0, 1, 2});
  sync.synchronize();
  EXPECT_EQ(sync.buckets_started_early(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(to_vector(params[static_cast<size_t>(i)].second.grad()), expected_grad(params, i));
  }
}

TEST(GradientSync, ASecondBackwardAfterABucketWentOutIsAnError) {
  SingleProcessCommunicator comm;
  const nn::NamedTensors params = three_params();
  GradientSync sync(comm, params);
  backward_with_weights(params, {0, 1, 2});
  EXPECT_THROW(backward_with_weights(params, {0, 1, 2}), Error);
}

TEST(GradientSync, GradientAccumulationBeforeTheBucketGoesOutIsSummed) {
  SingleProcessCommunicator comm;
  const nn::NamedTensors params = three_params();
  GradientSync sync(comm, params);
  // Only a and c: the single bucket waits for b, so both passes add up.
  backward_with_weights(params, {0, 2});
  backward_with_weights(params, {0, 2});
  sync.synchronize();
  std::vector<double> twice = expected_grad(params, 0);
  for (double& v : twice) v *= 2;
  EXPECT_EQ(to_vector(params[0].second.grad()), twice);
}

// Rank 0 of two. Buckets must hold one parameter each: the simulated peer
// sends `peer_value` everywhere in bucket b if peer_has[b], else zeros (as a
// rank without that gradient does), with the matching flag.
class SimulatedPeer final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  void broadcast(const Tensor&, std::string_view) override {}
  void broadcast(std::string&, std::string_view) override {}
  std::unique_ptr<PendingCollective> start_allreduce_mean(const Tensor& buffer,
                                                          std::string what) override {
    started.push_back(what);
    const bool has = peer_has.at(started.size() - 1);
    float* p = buffer.data<float>();
    const int64_t values = buffer.numel() - 1;  // then one flag
    for (int64_t i = 0; i < values; ++i) p[i] = (p[i] + (has ? peer_value : 0.0f)) / 2;
    p[values] = (p[values] + (has ? 1.0f : 0.0f)) / 2;
    return std::make_unique<Done>();
  }
  void allreduce_sum(std::vector<double>&, std::string_view) override {}
  void barrier(std::string_view) override {}
  [[noreturn]] void abort(const std::string& message, int) override { throw Error(message); }

  float peer_value = 2.0f;
  std::vector<bool> peer_has;
  std::vector<std::string> started;

 private:
  struct Done final : PendingCollective {
    bool test() override { return true; }
    void wait() override {}
  };
};

TEST(GradientSync, AveragesWithAPeerCountingAMissingGradientAsZero) {
  SimulatedPeer peer;
  peer.peer_has = {true, true, false};  // buckets c, b, a
  const nn::NamedTensors params = three_params();
  GradientSync sync(peer, params, {.bucket_bytes = 4});
  backward_with_weights(params, {0, 2});  // this rank: a and c
  sync.synchronize();
  ASSERT_EQ(peer.started.size(), 3u);
  EXPECT_NE(peer.started[0].find("gradient bucket 1 of 3"), std::string::npos) << peer.started[0];
  EXPECT_NE(peer.started[2].find("gradient bucket 3 of 3"), std::string::npos);
  // c: both ranks.
  std::vector<double> c = expected_grad(params, 2);
  for (double& v : c) v = (v + 2) / 2;
  EXPECT_EQ(to_vector(params[2].second.grad()), c);
  // b: only the peer; now defined here too.
  ASSERT_TRUE(params[1].second.grad().defined());
  EXPECT_EQ(to_vector(params[1].second.grad()), std::vector<double>(6, 1.0));
  // a: only this rank.
  std::vector<double> a = expected_grad(params, 0);
  for (double& v : a) v /= 2;
  EXPECT_EQ(to_vector(params[0].second.grad()), a);
}

TEST(GradientSync, AGradientNoRankHadStaysUndefined) {
  SimulatedPeer peer;
  peer.peer_has = {true, false, true};
  const nn::NamedTensors params = three_params();
  GradientSync sync(peer, params, {.bucket_bytes = 4});
  backward_with_weights(params, {0, 2});
  sync.synchronize();
  EXPECT_FALSE(params[1].second.grad().defined());
  EXPECT_TRUE(params[0].second.grad().defined());
}

TEST(DistributedStatus, AgreedFailuresAreMarked) {
  EXPECT_FALSE(is_agreed_failure(absl::InvalidArgumentError("x")));
  const absl::Status agreed = agreed_failure(absl::InvalidArgumentError("bad config"));
  EXPECT_TRUE(is_agreed_failure(agreed));
  EXPECT_EQ(agreed.message(), "bad config");
  EXPECT_TRUE(agreed_failure(absl::OkStatus()).ok());
}

TEST(DistributedStatus, WithoutALauncherTheWorldIsOneProcess) {
  absl::StatusOr<std::unique_ptr<Communicator>> comm = make_world_communicator();
  ASSERT_TRUE(comm.ok()) << comm.status();
  EXPECT_EQ((*comm)->world_size(), 1);
  EXPECT_EQ((*comm)->rank(), 0);
  EXPECT_FALSE(make_world_communicator({.timeout_seconds = 0}).ok());
}

// ---- sharded global batches ----

ExperimentConfig data_config(const Json& augment, int64_t batch_size) {
  const Json json = {
      {"model", {{"name", "mlp_classifier"}}},
      {"data",
       {{"name", "synthetic_images"},
        {"image_shape", {6, 6, 1}},
        {"num_classes", 3},
        {"num_examples", 50},
        {"batch_size", batch_size},
        {"augment", augment}}},
      {"train", {{"seed", 5}}},
  };
  absl::StatusOr<ExperimentConfig> config = parse_experiment(json, "test.json");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

void expect_shards_make_the_global_batches(const ExperimentConfig& config, int world_size) {
  absl::StatusOr<RunData> whole = build_data(config);
  ASSERT_TRUE(whole.ok()) << whole.status();
  std::vector<RunData> shards;
  for (int r = 0; r < world_size; ++r) {
    absl::StatusOr<RunData> shard = build_data(config, {.rank = r, .world_size = world_size});
    ASSERT_TRUE(shard.ok()) << shard.status();
    ASSERT_EQ(shard->train_batches->size(), whole->train_batches->size());
    shards.push_back(std::move(*shard));
  }
  const int64_t batch = config.data.batch_size;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const data::EpochKey key{.seed = 9, .epoch = epoch};
    for (int64_t i = 0; i < whole->train_batches->size(); ++i) {
      const data::Batch global = whole->train_batches->get(i, key);
      for (const std::string& name : global.names()) {
        TensorList parts;
        for (const RunData& shard : shards) {
          const data::Batch part = shard.train_batches->get(i, key);
          EXPECT_EQ(part.at(name).size(0), batch / world_size);
          parts.push_back(part.at(name));
        }
        EXPECT_EQ(to_vector(concat(parts, 0)), to_vector(global.at(name)))
            << name << " of batch " << i << " in epoch " << epoch;
      }
    }
  }
}

TEST(ShardedData, RanksSharesMakeUpTheGlobalBatch) {
  expect_shards_make_the_global_batches(data_config(Json::object(), 12), 2);
  expect_shards_make_the_global_batches(data_config(Json::object(), 12), 3);
}

TEST(ShardedData, AugmentationDrawsFollowTheExampleNotTheRank) {
  const Json augment = {{"random_crop_padding", 1}, {"horizontal_flip", true}};
  expect_shards_make_the_global_batches(data_config(augment, 8), 2);
  Json multiplicity = augment;
  multiplicity["multiplicity"] = 2;
  expect_shards_make_the_global_batches(data_config(multiplicity, 8), 4);
}

TEST(ShardedData, TheGlobalBatchMustDivideByTheRanks) {
  absl::StatusOr<RunData> data =
      build_data(data_config(Json::object(), 12), {.rank = 0, .world_size = 5});
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("data.batch_size (12"), std::string::npos)
      << data.status();
  EXPECT_NE(data.status().message().find("number of ranks (5)"), std::string::npos);
  EXPECT_FALSE(build_data(data_config(Json::object(), 12), {.rank = 2, .world_size = 2}).ok());
}

}  // namespace
}  // namespace kiln::train
