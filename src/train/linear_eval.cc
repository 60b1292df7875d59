#include "kiln/train/linear_eval.h"

#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"
#include "kiln/optim/optimizer.h"

namespace kiln::train {
namespace {

double accuracy(const Tensor& logits, const Tensor& labels) {
  const Tensor hits = eq(argmax(logits, -1), labels);
  return sum(to_dtype(hits, DType::kF64)).item<double>() / static_cast<double>(labels.size(0));
}

}  // namespace

Features extract_features(const std::function<Tensor(const Tensor&)>& embed,
                          const data::Dataset& batches, const std::string& input_key) {
  NoGradGuard no_grad;
  TensorList xs, ys;
  for (int64_t i = 0; i < batches.size(); ++i) {
    const data::Batch batch = batches.get(i);
    const Tensor e = embed(batch.at(input_key));  // (B, D)
    KILN_CHECK(e.dim() == 2 && e.size(0) == batch.at(input_key).size(0),
               "extract_features: the encoder must give (B, D) embeddings, got ",
               shape_str(e.shape()));
    xs.push_back(to_dtype(e, DType::kF32));
    ys.push_back(to_dtype(batch.at(data::kLabelKey), DType::kI64));
  }
  KILN_CHECK(!xs.empty(), "extract_features: the dataset has no batches");
  return {concat(xs, 0), concat(ys, 0)};
}

LinearProbeResult linear_probe(const Features& train, const Features& test, int64_t num_classes,
                               const LinearProbeOptions& options) {
  KILN_CHECK(train.x.dim() == 2 && test.x.dim() == 2 && train.x.size(1) == test.x.size(1) &&
                 train.y.size(0) == train.x.size(0) && test.y.size(0) == test.x.size(0),
             "linear_probe: needs train and test features (N, D) with one label each, got ",
             shape_str(train.x.shape()), " and ", shape_str(test.x.shape()));
  KILN_CHECK(num_classes > 1 && options.steps > 0 && options.lr > 0 && options.l2 >= 0,
             "linear_probe: needs num_classes > 1, steps > 0, lr > 0 and l2 >= 0");
  Tensor x_train = train.x, x_test = test.x;  // (N, D)
  if (options.standardize) {
    NoGradGuard no_grad;
    const Tensor mu = mean(x_train, {0}, true);                               // (1, D)
    const Tensor inv_std = rsqrt(add_scalar(var(x_train, {0}, true), 1e-8));  // (1, D)
    x_train = mul(sub(x_train, mu), inv_std);
    x_test = mul(sub(x_test, mu), inv_std);
  }
  const int64_t d = x_train.size(1);
  const Tensor w = zeros({d, num_classes}).set_requires_grad(true);  // (D, C)
  const Tensor b = zeros({num_classes}).set_requires_grad(true);     // (C)
  optim::Adam adam(nn::NamedTensors{{"w", w}, {"b", b}}, {});
  LinearProbeResult result;
  for (int64_t step = 0; step < options.steps; ++step) {
    const Tensor logits = add(matmul(x_train, w), b);  // (N, C)
    Tensor loss = cross_entropy(logits, train.y);
    if (options.l2 > 0) loss = add(loss, mul_scalar(sum(square(w)), 0.5 * options.l2));
    result.train_loss = loss.item<double>();
    loss.backward();
    adam.step(options.lr);
    adam.zero_grad();
  }
  NoGradGuard no_grad;
  result.train_accuracy = accuracy(add(matmul(x_train, w), b), train.y);
  result.test_accuracy = accuracy(add(matmul(x_test, w), b), test.y);
  return result;
}

}  // namespace kiln::train
