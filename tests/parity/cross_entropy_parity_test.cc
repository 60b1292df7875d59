// cross_entropy against PyTorch (tools/golden/generate.py, checked there
// against F.cross_entropy): logits (6, 5), mean reduction, with integer
// targets (i64 and i32) and label smoothing 0.1, the same with one target
// equal to ignore_index, and soft targets (6, 5) without and with smoothing.
// The loss and the gradient of loss * proj w.r.t. the logits.
#include <gtest/gtest.h>

#include <string>

#include "kiln/ops/nn.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

class CrossEntropyParity : public ::testing::TestWithParam<std::string> {};

TEST_P(CrossEntropyParity, LossAndGradientMatchPyTorch) {
  const Golden g = Golden::load(GetParam());
  ASSERT_EQ(g.meta("reduction"), "mean");
  CrossEntropyOptions options;
  options.label_smoothing = g.meta_double("label_smoothing");
  options.ignore_index = g.meta_int("ignore_index");
  const bool soft = is_floating(g.raw("targets").dtype());
  for (DType dtype : {DType::kF32, DType::kF64}) {
    // Integer targets run as stored (i64) and as i32; soft ones in the logits' dtype.
    const std::vector<DType> target_dtypes =
        soft ? std::vector<DType>{dtype} : std::vector<DType>{DType::kI64, DType::kI32};
    for (DType target_dtype : target_dtypes) {
      SCOPED_TRACE(
          absl::StrCat(dtype_label(dtype), " logits, ", dtype_label(target_dtype), " targets"));
      const Tolerance tol = tolerance(dtype);
      Tensor logits = g.leaf("logits", dtype);
      const Tensor loss = cross_entropy(logits, g.get("targets", target_dtype), options);
      EXPECT_TRUE(all_close(loss, g.raw("out"), tol));
      const TensorList grads = projected_grads(loss, g.get("proj", dtype), {logits});
      EXPECT_TRUE(all_close(grads[0], g.raw("grad_logits"), tol)) << "grad_logits";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, CrossEntropyParity,
                         ::testing::Values("cross_entropy_int_smoothing",
                                           "cross_entropy_int_ignore", "cross_entropy_soft",
                                           "cross_entropy_soft_smoothing"));

}  // namespace
}  // namespace kiln::parity
