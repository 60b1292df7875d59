// Linear evaluation of frozen representations (HARES, 2111.12124): the
// encoder's embeddings of each downstream task's examples are extracted once,
// then a linear softmax classifier is trained on the cached training
// features and its accuracy measured on the held-out ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "kiln/data/dataset.h"
#include "kiln/tensor/tensor.h"

namespace kiln::train {

// Features (N, D) f32 and their integer labels (N) i64.
struct Features {
  Tensor x;
  Tensor y;
};

// Applies `embed` (with grad mode off) to the `input_key` tensor of every
// batch of `batches` and gathers the embeddings with the batches' "label".
Features extract_features(const std::function<Tensor(const Tensor&)>& embed,
                          const data::Dataset& batches, const std::string& input_key);

struct LinearProbeOptions {
  double l2 = 1e-4;  // weight of 0.5 * l2 * ||W||^2 added to the mean cross-entropy
  double lr = 0.05;  // Adam, full batch
  int64_t steps = 500;
  // Standardise each feature with the training set's mean and std first.
  bool standardize = true;
};

struct LinearProbeResult {
  double train_accuracy = 0;
  double test_accuracy = 0;
  double train_loss = 0;  // the final regularised training loss
};

// L2-regularised softmax regression W (D, C), b (C) on `train`, zero
// initialised (the problem is convex: no seed), evaluated on `test`.
LinearProbeResult linear_probe(const Features& train, const Features& test, int64_t num_classes,
                               const LinearProbeOptions& options = {});

}  // namespace kiln::train
