// Linear evaluation: feature extraction and the L2-regularised softmax probe.
#include <gtest/gtest.h>

#include "kiln/data/dataset.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"
#include "kiln/train/linear_eval.h"

namespace kiln::train {
namespace {

// Three Gaussian blobs in 6 dims, far apart along random directions.
Features blobs(int64_t per_class, uint64_t seed) {
  Generator centres_gen(99);  // the same class centres for train and test
  const Tensor centres = mul_scalar(normal({3, 6}, 0, 1, centres_gen), 4.0);  // (3, 6)
  Generator gen(seed);
  TensorList xs;
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < 3; ++c) {
    xs.push_back(add(normal({per_class, 6}, 0, 1, gen), narrow(centres, 0, c, 1)));
    labels.insert(labels.end(), static_cast<size_t>(per_class), c);
  }
  return {concat(xs, 0), from_vector(labels, {3 * per_class})};
}

TEST(LinearEval, ProbeSeparatesLinearlySeparableFeatures) {
  const LinearProbeResult r = linear_probe(blobs(40, 1), blobs(20, 2), 3, {.steps = 200});
  EXPECT_GT(r.train_accuracy, 0.95);
  EXPECT_GT(r.test_accuracy, 0.95);
  // A heavy L2 penalty cannot be overfitted into a lower training loss.
  const LinearProbeResult heavy = linear_probe(blobs(40, 1), blobs(20, 2), 3, {.l2 = 10.0});
  EXPECT_GT(heavy.train_loss, r.train_loss);
}

TEST(LinearEval, ExtractsFeaturesOfEveryBatchWithTheirLabels) {
  Generator gen(3);
  const Tensor x = normal({10, 4, 3, 1}, 0, 1, gen);
  const Tensor y = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, {10});
  const data::DatasetPtr batches =
      data::batch(data::tensor_dataset({{"spectrogram", x}, {"label", y}}), 4);
  // A stand-in encoder: the mean over (T, F) per channel and its square.
  const auto embed = [](const Tensor& s) {
    const Tensor m = mean(s, {1, 2});  // (B, 1)
    return concat({m, square(m)}, 1);  // (B, 2)
  };
  const Features f = extract_features(embed, *batches, "spectrogram");
  EXPECT_EQ(f.x.shape(), (Shape{10, 2}));
  EXPECT_EQ(to_vector(f.y), to_vector(y));
  EXPECT_NEAR(to_vector(f.x)[14], mean(narrow(x, 0, 7, 1)).item<double>(), 1e-6);
  EXPECT_THROW(extract_features(embed, *batches, "image"), Error);
}

}  // namespace
}  // namespace kiln::train
