// Few-shot image classification with Flamingo (2204.14198, close-ended
// tasks): prompt with k (image, class name) examples from a support set,
// then the query image, and score every class name as the continuation by
// its log-likelihood. The prompt for k = 2:
//
//   <image>sneaker<EOC><image>bag<EOC><image>{candidate}<EOC>
//
// (the bare-name caption template of data/interleaved.h). The scored tokens
// are the candidate's bytes and its <EOC>; the prediction is the candidate
// with the highest total log-probability.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/data/interleaved.h"
#include "kiln/models/flamingo/flamingo.h"

namespace kiln::train {

struct FewShotOptions {
  std::vector<int64_t> shots = {0, 1, 2, 4, 8};
  int64_t queries = 200;            // the first `queries` images of the query set
  uint64_t seed = 0;                // the support draws: a function of (seed, k, query)
  data::InterleavedOptions format;  // tokens, normalisation; templates[0] is used
};

struct FewShotResult {
  int64_t shots = 0;
  int64_t queries = 0;
  int64_t correct = 0;
  double accuracy() const { return queries > 0 ? static_cast<double>(correct) / queries : 0; }
};

// One result per entry of options.shots. Support examples are drawn
// uniformly from `support` (with replacement); the model runs in eval mode
// without gradients.
std::vector<FewShotResult> few_shot_classification(models::Flamingo& model,
                                                   const data::LabeledImages& support,
                                                   const data::LabeledImages& queries,
                                                   const std::vector<std::string>& class_names,
                                                   const FewShotOptions& options);

}  // namespace kiln::train
