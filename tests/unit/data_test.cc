// Datasets, wrappers and the loader: determinism keyed by (seed, epoch,
// index), batching shapes, prefetching, errors from workers, resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kiln/data/dataset.h"
#include "kiln/data/loader.h"
#include "kiln/ops/random.h"

namespace kiln::data {
namespace {

// N examples {"image": (2, 3, 1) f32 filled with i, "label": () i64 = i}.
DatasetPtr indexed_dataset(int64_t n) {
  std::vector<float> images;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 6; ++k) images.push_back(static_cast<float>(i) + 0.1f * k);
    labels.push_back(i);
  }
  return tensor_dataset(
      {{kImageKey, from_vector(images, {n, 2, 3, 1})}, {kLabelKey, from_vector(labels, {n})}});
}

std::vector<int64_t> labels_of(const Batch& batch) {
  std::vector<int64_t> out;
  for (double v : to_vector(batch.at(kLabelKey))) out.push_back(static_cast<int64_t>(v));
  return out;
}

// Same names, shapes, dtypes and bits.
void expect_same(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.names(), b.names());
  for (const auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    EXPECT_EQ(t.shape(), u.shape()) << name;
    EXPECT_EQ(t.dtype(), u.dtype()) << name;
    EXPECT_EQ(to_vector(t), to_vector(u)) << name;
  }
}

// Adds "noise": () f32 uniform draw from the per-example generator.
Transform add_noise() {
  return [](Example e, Generator& gen) {
    e.set("noise", uniform({}, 0.0, 1.0, gen));
    return e;
  };
}

// A pipeline with every random wrapper: shuffle, then a random map, batched.
DatasetPtr random_pipeline(int64_t n, int64_t batch_size) {
  return batch(map(shuffle(indexed_dataset(n)), add_noise()), batch_size);
}

TEST(DataTensorMap, MissingNameListsPresentNames) {
  Example e{{"image", zeros({1})}, {"label", zeros({})}};
  EXPECT_TRUE(e.contains("image"));
  EXPECT_EQ(e.names(), (std::vector<std::string>{"image", "label"}));
  try {
    e.at("tokens");
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("'tokens'"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("image, label"), std::string::npos) << err.what();
  }
  e.erase("image");
  EXPECT_EQ(e.size(), 1);
}

TEST(DataTensorDataset, RowsAreViewsOfTheColumns) {
  Tensor images = arange(24, DType::kF32);
  Tensor labels = arange(4);
  DatasetPtr ds = tensor_dataset(
      {{kImageKey, make_view(images, {4, 2, 3}, {6, 3, 1}, 0)}, {kLabelKey, labels}});
  ASSERT_EQ(ds->size(), 4);
  Example e = ds->get(2);
  EXPECT_EQ(e.at(kImageKey).shape(), Shape({2, 3}));
  EXPECT_EQ(e.at(kLabelKey).dim(), 0);
  EXPECT_EQ(e.at(kLabelKey).item<int64_t>(), 2);
  EXPECT_EQ(to_vector(e.at(kImageKey)), (std::vector<double>{12, 13, 14, 15, 16, 17}));
  EXPECT_TRUE(e.at(kImageKey).shares_storage(images));
  EXPECT_THROW(ds->get(4), Error);
  EXPECT_THROW(ds->get(-1), Error);
  EXPECT_THROW(tensor_dataset({{"a", zeros({3})}, {"b", zeros({4})}}), Error);
  EXPECT_THROW(tensor_dataset({{"a", zeros({})}}), Error);
}

TEST(DataGenerator, KeyedBySeedStreamEpochAndIndex) {
  auto draw = [](EpochKey key, uint64_t stream, int64_t index) {
    Generator gen = example_generator(key, stream, index);
    return to_vector(uniform({4}, 0.0, 1.0, gen));
  };
  const auto base = draw({7, 2}, 0, 5);
  EXPECT_EQ(draw({7, 2}, 0, 5), base);
  EXPECT_NE(draw({8, 2}, 0, 5), base);
  EXPECT_NE(draw({7, 3}, 0, 5), base);
  EXPECT_NE(draw({7, 2}, 1, 5), base);
  EXPECT_NE(draw({7, 2}, 0, 6), base);
}

TEST(DataShuffle, SameSeedAndEpochGiveTheSamePermutation) {
  const int64_t n = 50;
  DatasetPtr a = shuffle(indexed_dataset(n));
  DatasetPtr b = shuffle(indexed_dataset(n));
  auto order = [n](const DatasetPtr& ds, EpochKey key) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < n; ++i) out.push_back(ds->get(i, key).at(kLabelKey).item<int64_t>());
    return out;
  };
  // Epochs visited in different orders: a permutation depends only on (seed, epoch).
  const auto a1 = order(a, {3, 1});
  const auto a0 = order(a, {3, 0});
  const auto a2 = order(a, {3, 2});
  EXPECT_EQ(order(b, {3, 0}), a0);
  EXPECT_EQ(order(b, {3, 2}), a2);
  EXPECT_EQ(order(b, {3, 1}), a1);
  EXPECT_EQ(a0, epoch_permutation(n, {3, 0}, 0));

  // Each epoch is a permutation, and epochs, seeds and streams differ.
  for (const auto& o : {a0, a1, a2}) {
    std::vector<int64_t> sorted = o;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> iota(n);
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota);
  }
  std::vector<int64_t> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a0, identity);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a1, a2);
  EXPECT_NE(order(a, {4, 0}), a0);
  EXPECT_NE(order(shuffle(indexed_dataset(n), 1), {3, 0}), a0);
}

TEST(DataShuffle, EveryPositionIsUniformOverManyEpochs) {
  // Position 0 of a 4-element shuffle takes each value about 1/4 of the time.
  std::vector<int> counts(4, 0);
  const int epochs = 4000;
  for (int e = 0; e < epochs; ++e) ++counts[epoch_permutation(4, {11, e}, 0)[0]];
  for (int c : counts) EXPECT_NEAR(c, epochs / 4, 150);
}

TEST(DataMap, TransformSeesAGeneratorKeyedByEpochAndIndex) {
  DatasetPtr ds = map(indexed_dataset(10), add_noise());
  auto noise = [&](int64_t i, EpochKey key) { return ds->get(i, key).at("noise").item<double>(); };
  EXPECT_EQ(noise(3, {1, 0}), noise(3, {1, 0}));
  EXPECT_NE(noise(3, {1, 0}), noise(4, {1, 0}));
  EXPECT_NE(noise(3, {1, 0}), noise(3, {1, 1}));
  EXPECT_NE(noise(3, {1, 0}), noise(3, {2, 0}));
  Generator gen = example_generator({1, 0}, 0, 3);
  EXPECT_EQ(noise(3, {1, 0}), uniform({}, 0.0, 1.0, gen).item<double>());
  // Untouched tensors pass through.
  EXPECT_EQ(ds->get(3).at(kLabelKey).item<int64_t>(), 3);
}

TEST(DataMap, ResultsDoNotDependOnCallingThreads) {
  DatasetPtr ds = random_pipeline(40, 4);
  std::vector<Batch> sequential;
  for (int64_t b = 0; b < ds->size(); ++b) sequential.push_back(ds->get(b, {5, 1}));
  std::vector<Batch> parallel(static_cast<size_t>(ds->size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t b = t; b < ds->size(); b += 4) parallel[b] = ds->get(b, {5, 1});
    });
  }
  for (auto& t : threads) t.join();
  for (size_t b = 0; b < parallel.size(); ++b) expect_same(parallel[b], sequential[b]);
}

TEST(DataBatch, ShapesAndLastBatch) {
  DatasetPtr ds = batch(indexed_dataset(10), 4);
  ASSERT_EQ(ds->size(), 3);
  Batch b0 = ds->get(0);
  EXPECT_EQ(b0.at(kImageKey).shape(), Shape({4, 2, 3, 1}));
  EXPECT_EQ(b0.at(kLabelKey).shape(), Shape({4}));
  EXPECT_EQ(b0.at(kLabelKey).dtype(), DType::kI64);
  EXPECT_EQ(labels_of(b0), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(to_vector(b0.at(kImageKey))[6], 1.0);  // example 1 starts at element 6
  Batch last = ds->get(2);
  EXPECT_EQ(last.at(kImageKey).shape(), Shape({2, 2, 3, 1}));
  EXPECT_EQ(labels_of(last), (std::vector<int64_t>{8, 9}));

  DatasetPtr dropped = batch(indexed_dataset(10), 4, /*drop_last=*/true);
  EXPECT_EQ(dropped->size(), 2);
  EXPECT_EQ(batch(indexed_dataset(8), 4, true)->size(), 2);
  EXPECT_EQ(batch(indexed_dataset(3), 4, true)->size(), 0);
  EXPECT_THROW(batch(indexed_dataset(3), 0), Error);
}

TEST(DataBatch, MismatchedExamplesAreErrors) {
  std::vector<Example> examples{{{"x", zeros({2})}}, {{"x", zeros({3})}}};
  EXPECT_THROW(stack_examples(examples), Error);
  examples[1] = Example{{"y", zeros({2})}};
  EXPECT_THROW(stack_examples(examples), Error);
  examples[1] = Example{{"x", zeros({2}, DType::kF64)}};
  EXPECT_THROW(stack_examples(examples), Error);
  EXPECT_THROW(stack_examples({}), Error);
  // Strided inputs are stacked by value.
  Tensor base = arange(6, DType::kF32);
  Batch b = stack_examples(
      {Example{{"x", make_view(base, {3}, {2}, 0)}}, Example{{"x", make_view(base, {3}, {2}, 1)}}});
  EXPECT_EQ(to_vector(b.at("x")), (std::vector<double>{0, 2, 4, 1, 3, 5}));
}

TEST(DataWrappers, SliceAndRepeatEach) {
  DatasetPtr s = slice(indexed_dataset(10), 3, 7);
  ASSERT_EQ(s->size(), 4);
  EXPECT_EQ(s->get(0).at(kLabelKey).item<int64_t>(), 3);
  EXPECT_EQ(s->get(3).at(kLabelKey).item<int64_t>(), 6);
  EXPECT_THROW(slice(indexed_dataset(10), 3, 11), Error);
  DatasetPtr r = repeat_each(indexed_dataset(3), 2);
  ASSERT_EQ(r->size(), 6);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 6; ++i) labels.push_back(r->get(i).at(kLabelKey).item<int64_t>());
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_THROW(repeat_each(indexed_dataset(3), 0), Error);
}

std::vector<Batch> run(DataLoader& loader, int count) {
  std::vector<Batch> out;
  for (int i = 0; i < count; ++i) out.push_back(loader.next());
  return out;
}

TEST(DataLoaderTest, IteratesEpochsAndAdvancesThePosition) {
  DataLoader loader(batch(indexed_dataset(10), 4), {.seed = 1, .prefetch = 0});
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  EXPECT_EQ(loader.position(), (LoaderPosition{0, 0}));
  EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(loader.position(), (LoaderPosition{0, 1}));
  loader.next();
  EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(loader.position(), (LoaderPosition{1, 0}));
  EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_THROW(loader.set_position({0, 3}), Error);
  EXPECT_THROW(loader.set_position({-1, 0}), Error);
  EXPECT_THROW({ DataLoader empty(batch(indexed_dataset(3), 4, true)); }, Error);
}

TEST(DataLoaderTest, PrefetchGivesTheSameBatchesAsNoPrefetch) {
  DatasetPtr ds = random_pipeline(30, 4);  // 8 batches per epoch, the last of 2
  DataLoader plain(ds, {.seed = 9, .prefetch = 0});
  const std::vector<Batch> expected = run(plain, 20);
  // The epochs differ (shuffle) and the noise differs between epochs.
  EXPECT_NE(labels_of(expected[0]), labels_of(expected[8]));
  const std::vector<std::pair<int, int>> settings{{1, 1}, {2, 1}, {4, 3}, {16, 2}};
  for (auto [prefetch, workers] : settings) {
    DataLoader loader(ds, {.seed = 9, .prefetch = prefetch, .num_workers = workers});
    const std::vector<Batch> got = run(loader, 20);
    for (size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE(testing::Message()
                   << "prefetch " << prefetch << " workers " << workers << " batch " << i);
      expect_same(got[i], expected[i]);
    }
    EXPECT_EQ(loader.position(), plain.position());
  }
  DataLoader other_seed(ds, {.seed = 10, .prefetch = 2});
  EXPECT_NE(labels_of(other_seed.next()), labels_of(expected[0]));
}

// {"label": index}; example `bad` throws in epoch 0.
class FailingDataset final : public Dataset {
 public:
  explicit FailingDataset(int64_t bad) : bad_(bad) {}
  int64_t size() const override { return 12; }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    if (index == bad_ && key.epoch == 0) {
      throw std::runtime_error("cannot decode example " + std::to_string(index));
    }
    return Example{{kLabelKey, scalar_tensor(static_cast<double>(index), DType::kI64)}};
  }

 private:
  int64_t bad_;
};

TEST(DataLoaderTest, WorkerExceptionSurfacesInNext) {
  for (int64_t prefetch : {0, 3}) {
    SCOPED_TRACE(prefetch);
    auto failing = std::make_shared<FailingDataset>(9);
    DataLoader loader(batch(failing, 4), {.prefetch = prefetch, .num_workers = 2});
    EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{4, 5, 6, 7}));
    try {
      loader.next();
      FAIL() << "expected the worker's exception";
    } catch (const std::runtime_error& err) {
      EXPECT_EQ(std::string(err.what()), "cannot decode example 9");
    }
    // The position stays on the failed batch; a retry fails again.
    EXPECT_EQ(loader.position(), (LoaderPosition{0, 2}));
    EXPECT_THROW(loader.next(), std::runtime_error);
    // Moving past it works (epoch 1 has no bad example).
    loader.set_position({1, 2});
    EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{8, 9, 10, 11}));
    EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{0, 1, 2, 3}));
  }
}

TEST(DataLoaderTest, ResumeMidEpochContinuesExactly) {
  DatasetPtr ds = random_pipeline(30, 4);
  DataLoader uninterrupted(ds, {.seed = 3, .prefetch = 3, .num_workers = 2});
  std::vector<Batch> all;
  std::vector<LoaderPosition> positions;
  for (int i = 0; i < 22; ++i) {
    positions.push_back(uninterrupted.position());
    all.push_back(uninterrupted.next());
  }
  for (int stop : {5, 8, 13}) {
    SCOPED_TRACE(stop);
    // A run that stops after `stop` batches saves its position ...
    LoaderPosition saved;
    {
      DataLoader first(ds, {.seed = 3, .prefetch = 2});
      run(first, stop);
      saved = first.position();
    }  // ... and is destroyed with batches in flight.
    EXPECT_EQ(saved, positions[stop]);
    // Resuming through the constructor and through set_position.
    DataLoader resumed(ds, {.seed = 3, .prefetch = 2}, saved);
    DataLoader moved(ds, {.seed = 3, .prefetch = 0});
    run(moved, 3);
    moved.set_position(saved);
    for (int i = stop; i < 22; ++i) {
      expect_same(resumed.next(), all[i]);
      expect_same(moved.next(), all[i]);
    }
  }
}

TEST(DataLoaderTest, SetPositionDropsBatchesLoadedAhead) {
  DataLoader loader(batch(indexed_dataset(40), 2), {.prefetch = 8, .num_workers = 2});
  loader.next();
  loader.set_position({0, 15});
  EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{30, 31}));
  loader.set_position({0, 1});
  EXPECT_EQ(labels_of(loader.next()), (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace kiln::data
