// attention against PyTorch (tools/golden/generate.py, the math written out
// as softmax(q k^T * scale + bias + mask) v). q (B, H, Tq, Dh), k (B, H, Tk,
// Dh), v (B, H, Tk, Dv). Cases: causal (Tq = Tk, and Tq < Tk where query i
// sees keys j <= i + Tk - Tq), an additive bias (1, H, Tq, Tk) broadcast over
// B with an explicit scale, a key padding mask (B, Tk), and causal + padding
// leaving a query with no visible key (its output row is zero). Each runs
// with contiguous q, k, v and with (B, T, H, D) tensors viewed as (B, H, T, D).
#include <gtest/gtest.h>

#include <string>

#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

enum class Layout { kContiguous, kHeadsInner };

class AttentionParity : public ::testing::TestWithParam<std::string> {};

TEST_P(AttentionParity, OutputAndGradientsMatchPyTorch) {
  const Golden g = Golden::load(GetParam());
  AttentionOptions options;
  options.causal = g.meta_int("causal") != 0;
  options.scale = g.meta_double("scale");
  for (DType dtype : {DType::kF32, DType::kF64}) {
    for (Layout layout : {Layout::kContiguous, Layout::kHeadsInner}) {
      SCOPED_TRACE(absl::StrCat(dtype_label(dtype),
                                layout == Layout::kContiguous ? " contiguous" : " (B, T, H, D)"));
      const Tolerance tol = tolerance(dtype);
      // Leaves laid out as (B, H, T, D), or as (B, T, H, D) and passed as a
      // permuted view; the gradient is permuted back for the comparison.
      auto input = [&](const char* name, Tensor& leaf) {
        if (layout == Layout::kContiguous) {
          leaf = g.leaf(name, dtype);
          return leaf;
        }
        leaf = contiguous(permute(g.get(name, dtype), {0, 2, 1, 3}));
        leaf.set_requires_grad(true);
        return permute(leaf, {0, 2, 1, 3});
      };
      auto as_bhtd = [&](const Tensor& grad) {
        return layout == Layout::kContiguous ? grad : permute(grad, {0, 2, 1, 3});
      };
      Tensor q_leaf, k_leaf, v_leaf;
      const Tensor q = input("q", q_leaf);
      const Tensor k = input("k", k_leaf);
      const Tensor v = input("v", v_leaf);
      TensorList leaves = {q_leaf, k_leaf, v_leaf};
      Tensor bias;
      if (g.has("bias")) {
        bias = g.leaf("bias", dtype);
        leaves.push_back(bias);
      }
      const Tensor mask = g.has("key_padding_mask") ? g.raw("key_padding_mask") : Tensor();

      const Tensor out = attention(q, k, v, bias, mask, options);
      EXPECT_TRUE(all_close(out, g.raw("out"), tol));
      const TensorList grads = projected_grads(out, g.get("proj", dtype), leaves);
      EXPECT_TRUE(all_close(as_bhtd(grads[0]), g.raw("grad_q"), tol)) << "grad_q";
      EXPECT_TRUE(all_close(as_bhtd(grads[1]), g.raw("grad_k"), tol)) << "grad_k";
      EXPECT_TRUE(all_close(as_bhtd(grads[2]), g.raw("grad_v"), tol)) << "grad_v";
      if (bias.defined()) {
        EXPECT_TRUE(all_close(grads[3], g.raw("grad_bias"), tol)) << "grad_bias";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, AttentionParity,
                         ::testing::Values("attention_causal", "attention_causal_offset",
                                           "attention_bias", "attention_key_padding",
                                           "attention_causal_padding_empty_row"));

}  // namespace
}  // namespace kiln::parity
