// layer_norm against PyTorch (tools/golden/generate.py, checked there against
// F.layer_norm): x (3, 4, 8) offset by 3 and scaled by 2 so that the mean
// subtraction matters, normalised over the last dim with gamma and beta (8).
#include <gtest/gtest.h>

#include "kiln/ops/nn.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

TEST(LayerNormParity, OutputAndGradientsMatchPyTorch) {
  const Golden g = Golden::load("layer_norm");
  const double eps = g.meta_double("eps");
  for (DType dtype : {DType::kF32, DType::kF64}) {
    SCOPED_TRACE(dtype_label(dtype));
    const Tolerance tol = tolerance(dtype);
    Tensor x = g.leaf("x", dtype);
    Tensor gamma = g.leaf("gamma", dtype);
    Tensor beta = g.leaf("beta", dtype);
    const Tensor out = layer_norm(x, gamma, beta, eps);
    EXPECT_TRUE(all_close(out, g.raw("out"), tol));
    const TensorList grads = projected_grads(out, g.get("proj", dtype), {x, gamma, beta});
    EXPECT_TRUE(all_close(grads[0], g.raw("grad_x"), tol)) << "grad_x";
    EXPECT_TRUE(all_close(grads[1], g.raw("grad_gamma"), tol)) << "grad_gamma";
    EXPECT_TRUE(all_close(grads[2], g.raw("grad_beta"), tol)) << "grad_beta";
  }
}

}  // namespace
}  // namespace kiln::parity
