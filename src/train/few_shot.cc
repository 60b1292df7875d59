#include "kiln/train/few_shot.h"

#include <algorithm>
#include <limits>

#include "kiln/autograd/grad_mode.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "src/data/random_util.h"

namespace kiln::train {
namespace {

inline constexpr uint64_t kFewShotTag = 0x4645575348ull;  // "FEWSH"

void append_caption(std::vector<int64_t>* ids, const std::string& text, int64_t eoc) {
  for (unsigned char ch : text) ids->push_back(ch);
  ids->push_back(eoc);
}

}  // namespace

std::vector<FewShotResult> few_shot_classification(models::Flamingo& model,
                                                   const data::LabeledImages& support,
                                                   const data::LabeledImages& queries,
                                                   const std::vector<std::string>& class_names,
                                                   const FewShotOptions& options) {
  const data::InterleavedOptions& f = options.format;
  KILN_CHECK(support.images.is_contiguous() && queries.images.is_contiguous() &&
                 support.images.dim() == 4 && queries.images.dim() == 4,
             "few_shot_classification: images must be contiguous (N, H, W, C)");
  KILN_CHECK(!f.templates.empty(), "few_shot_classification: no caption template");
  const int64_t classes = static_cast<int64_t>(class_names.size());
  const int64_t h = queries.images.size(1), w = queries.images.size(2), c = queries.images.size(3);
  const int64_t num_queries = std::min(options.queries, queries.images.size(0));
  NoGradGuard no_grad;
  model.eval();

  std::vector<FewShotResult> results;
  for (int64_t k : options.shots) {
    KILN_CHECK(k >= 0, "few_shot_classification: shots must be >= 0, got ", k);
    FewShotResult result{.shots = k, .queries = num_queries};
    for (int64_t q = 0; q < num_queries; ++q) {
      Generator gen = data::example_generator({.seed = options.seed, .epoch = k}, kFewShotTag, q);
      Tensor images = zeros({1, k + 1, h, w, c});
      std::vector<int64_t> prefix;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t pick = data::detail::draw_below(gen, support.images.size(0));
        data::write_normalized_image(support, pick, f, images.data<float>() + j * h * w * c);
        prefix.push_back(f.image_token);
        const int64_t label = support.labels.data<int64_t>()[pick];
        append_caption(&prefix, data::caption(f.templates[0], class_names[label]), f.eoc_token);
      }
      data::write_normalized_image(queries, q, f, images.data<float>() + k * h * w * c);
      prefix.push_back(f.image_token);

      // Every candidate continuation in one batch (padded at the end, which
      // a causal model never sees from the scored positions).
      std::vector<std::vector<int64_t>> rows;
      size_t longest = 0;
      for (const std::string& name : class_names) {
        std::vector<int64_t> row = prefix;
        append_caption(&row, data::caption(f.templates[0], name), f.eoc_token);
        longest = std::max(longest, row.size());
        rows.push_back(std::move(row));
      }
      const int64_t l = static_cast<int64_t>(longest) - 1;  // inputs; targets shifted by one
      std::vector<int64_t> flat(static_cast<size_t>(classes * (l + 1)), f.pad_token);
      for (int64_t i = 0; i < classes; ++i) {
        std::copy(rows[i].begin(), rows[i].end(), flat.begin() + i * (l + 1));
      }
      const Tensor all = from_vector(flat, {classes, l + 1});
      const Tensor visual = model.visual_tokens(images);  // (1, (k + 1) R, d)
      const Tensor logp =
          log_softmax(model.forward_with_visual_tokens(
                          contiguous(narrow(all, 1, 0, l)),
                          contiguous(expand(visual, {classes, visual.size(1), visual.size(2)}))),
                      -1);  // (C, L, V)
      const Tensor lp = contiguous(logp);
      const int64_t v = lp.size(2);
      int64_t best = -1;
      double best_score = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < classes; ++i) {
        double score = 0;
        const int64_t first = static_cast<int64_t>(prefix.size());  // first scored token
        for (int64_t t = first; t < static_cast<int64_t>(rows[i].size()); ++t) {
          score += lp.data<float>()[(i * l + (t - 1)) * v + rows[i][t]];
        }
        if (score > best_score) {
          best_score = score;
          best = i;
        }
      }
      if (best == queries.labels.data<int64_t>()[q]) ++result.correct;
    }
    results.push_back(result);
  }
  return results;
}

}  // namespace kiln::train
