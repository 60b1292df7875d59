// gelu against PyTorch (tools/golden/generate.py, checked there against
// F.gelu): the exact erf form and the tanh approximation, on a grid over
// [-6, 6] plus random values; output and gradient of a random projection.
#include <gtest/gtest.h>

#include "kiln/ops/unary.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

TEST(GeluParity, ExactAndTanhFormsMatchPyTorch) {
  const Golden g = Golden::load("gelu");
  for (DType dtype : {DType::kF32, DType::kF64}) {
    for (bool approximate : {false, true}) {
      const std::string form = approximate ? "tanh" : "exact";
      SCOPED_TRACE(absl::StrCat(dtype_label(dtype), " ", form));
      const Tolerance tol = tolerance(dtype);
      Tensor x = g.leaf("x", dtype);
      const Tensor out = gelu(x, approximate);
      EXPECT_TRUE(all_close(out, g.raw("out_" + form), tol));
      const TensorList grads = projected_grads(out, g.get("proj", dtype), {x});
      EXPECT_TRUE(all_close(grads[0], g.raw("grad_x_" + form), tol)) << "grad_x";
    }
  }
}

}  // namespace
}  // namespace kiln::parity
