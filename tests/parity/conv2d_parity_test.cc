// conv2d against PyTorch (tools/golden/generate.py): channels-last x
// (N, H, W, C_in) and HWIO weights (KH, KW, C_in / groups, C_out), the
// fixture converted from and to PyTorch's NCHW / OIHW. Cases: groups 2,
// stride 2, asymmetric explicit padding; TF-SAME padding (asymmetric on one
// axis) with stride (2, 1) and dilation 2. Output and the gradients of a
// random projection of it w.r.t. x, weight and bias.
#include <gtest/gtest.h>

#include <string>

#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

Conv2dOptions conv_options(const Golden& g) {
  Conv2dOptions options;
  const std::vector<int64_t> stride = g.meta_ints("stride");
  const std::vector<int64_t> dilation = g.meta_ints("dilation");
  options.stride = {stride.at(0), stride.at(1)};
  options.dilation = {dilation.at(0), dilation.at(1)};
  options.groups = g.meta_int("groups");
  const std::string mode = g.meta("padding_mode");
  if (mode == "same") {
    options.padding_mode = PaddingMode::kSame;  // kiln computes the padding itself
  } else {
    KILN_CHECK(mode == "explicit", "unknown padding_mode ", mode);
    const std::vector<int64_t> p = g.meta_ints("padding");  // (top, bottom, left, right)
    options.padding_mode = PaddingMode::kExplicit;
    options.padding = {p.at(0), p.at(1), p.at(2), p.at(3)};
  }
  return options;
}

class Conv2dParity : public ::testing::TestWithParam<std::string> {};

TEST_P(Conv2dParity, OutputAndGradientsMatchPyTorch) {
  const Golden g = Golden::load(GetParam());
  const Conv2dOptions options = conv_options(g);
  for (DType dtype : {DType::kF32, DType::kF64}) {
    SCOPED_TRACE(dtype_label(dtype));
    const Tolerance tol = tolerance(dtype);
    Tensor x = g.leaf("x", dtype);
    Tensor weight = g.leaf("weight", dtype);
    Tensor bias = g.leaf("bias", dtype);
    const Tensor out = conv2d(x, weight, bias, options);
    EXPECT_TRUE(all_close(out, g.raw("out"), tol));
    const TensorList grads = projected_grads(out, g.get("proj", dtype), {x, weight, bias});
    EXPECT_TRUE(all_close(grads[0], g.raw("grad_x"), tol)) << "grad_x";
    EXPECT_TRUE(all_close(grads[1], g.raw("grad_weight"), tol)) << "grad_weight";
    EXPECT_TRUE(all_close(grads[2], g.raw("grad_bias"), tol)) << "grad_bias";
  }
}

TEST_P(Conv2dParity, Bf16ForwardMatchesPyTorchToBf16Precision) {
  // bf16 inputs and output (f32 accumulation): 8 significant bits, so the
  // check is loose: rounding the inputs and the output each costs ~2^-9.
  const Golden g = Golden::load(GetParam());
  const Tensor out = conv2d(g.get("x", DType::kBF16), g.get("weight", DType::kBF16),
                            g.get("bias", DType::kBF16), conv_options(g));
  EXPECT_EQ(out.dtype(), DType::kBF16);
  EXPECT_TRUE(all_close(out, g.raw("out"), {3e-2, 2e-2}));
}

INSTANTIATE_TEST_SUITE_P(Golden, Conv2dParity,
                         ::testing::Values("conv2d_groups_stride_pad", "conv2d_same_dilation"));

}  // namespace
}  // namespace kiln::parity
