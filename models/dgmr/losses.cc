#include "kiln/core/error.h"
#include "kiln/models/dgmr/dgmr.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/unary.h"

namespace kiln::models::dgmr {

Tensor hinge_discriminator_loss(const Tensor& real_scores, const Tensor& fake_scores) {
  return add(mean(relu(rsub(1.0, real_scores))), mean(relu(add_scalar(fake_scores, 1.0))));
}

Tensor hinge_generator_loss(const Tensor& fake_scores) { return neg(mean(fake_scores)); }

Tensor rain_weight(const Tensor& truth, double min_weight) {
  // The paper's text writes w(y) = max(y + 1, 24), which would weight every
  // cell at least 24 (deepmind-research#331); the released pseudocode
  // clips, clip(y, 0, 24), and so do we: heavier rain counts more, up to
  // 24 mm/h. min_weight > 0 keeps dry cells in the loss.
  return clamp(truth, min_weight, 24.0);
}

Tensor grid_cell_regulariser(const Tensor& samples, const Tensor& truth, double min_weight) {
  KILN_CHECK(samples.dim() == truth.dim() + 1 && samples.size(1) == truth.size(0),
             "grid_cell_regulariser: samples ", shape_str(samples.shape()),
             " must be (S, N, ...) over truth ", shape_str(truth.shape()));
  const Tensor expected = mean(samples, {0});  // E_Z[G(Z; X)]
  return mean(mul(abs(sub(expected, truth)), rain_weight(truth.detach(), min_weight)));
}

}  // namespace kiln::models::dgmr
