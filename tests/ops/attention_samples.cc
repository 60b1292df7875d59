// Gradient-check samples for attention. f64 runs the reference kernel, f32
// the blocked one, which the harness compares with f64: the larger samples
// cross the blocked kernel's block boundaries (kAttentionBlockQ/K).
#include <gtest/gtest.h>

#include "kernels/attention.h"
#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// q (B, H, Tq, Dh), k (B, H, Tk, Dh), v (B, H, Tk, Dv).
TensorList qkv(DType d, Generator& g, int64_t b, int64_t h, int64_t tq, int64_t tk, int64_t dh,
               int64_t dv) {
  return {random_tensor({b, h, tq, dh}, d, g), random_tensor({b, h, tk, dh}, d, g),
          random_tensor({b, h, tk, dv}, d, g)};
}

Tensor attend(const TensorList& in, bool causal, double scale = 0.0) {
  return attention(in[0], in[1], in[2], Tensor(), Tensor(), {.causal = causal, .scale = scale});
}

// Key padding mask (B, Tk) from rows of 0/1.
Tensor mask_of(const std::vector<double>& values, int64_t b, int64_t tk) {
  return from_vector(values, {b, tk}, DType::kBool);
}

KILN_OP_SAMPLE({.op = "attention",
                .variant = "plain",
                .inputs = [](DType d, Generator& g) { return qkv(d, g, 2, 2, 5, 6, 4, 4); },
                .apply = [](const TensorList& in) { return attend(in, false); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "explicit scale",
                .inputs = [](DType d, Generator& g) { return qkv(d, g, 1, 2, 4, 3, 3, 3); },
                .apply = [](const TensorList& in) { return attend(in, false, 1.7); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "causal Tq == Tk",
                .inputs = [](DType d, Generator& g) { return qkv(d, g, 1, 2, 5, 5, 4, 4); },
                .apply = [](const TensorList& in) { return attend(in, true); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "causal Tq < Tk (queries are the last Tq positions)",
                .inputs = [](DType d, Generator& g) { return qkv(d, g, 2, 1, 3, 7, 4, 4); },
                .apply = [](const TensorList& in) { return attend(in, true); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "causal Tq > Tk (first rows see no key)",
                .inputs = [](DType d, Generator& g) { return qkv(d, g, 1, 2, 6, 3, 4, 4); },
                .apply = [](const TensorList& in) { return attend(in, true); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "Dv != Dh",
                .inputs = [](DType d, Generator& g) { return qkv(d, g, 2, 2, 4, 5, 3, 6); },
                .apply = [](const TensorList& in) { return attend(in, false); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "bias (H, Tq, Tk) requires grad, broadcast over batch",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  TensorList in = qkv(d, g, 2, 2, 4, 5, 3, 3);
                  in.push_back(random_tensor({2, 4, 5}, d, g));
                  return in;
                },
                .apply =
                    [](const TensorList& in) {
                      return attention(in[0], in[1], in[2], in[3], Tensor(), {.causal = true});
                    }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "bias (B, 1, 1, Tk) broadcast over heads and queries",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  TensorList in = qkv(d, g, 2, 2, 3, 4, 3, 3);
                  in.push_back(random_tensor({2, 1, 1, 4}, d, g));
                  return in;
                },
                .apply =
                    [](const TensorList& in) { return attention(in[0], in[1], in[2], in[3]); }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "key padding mask with a fully masked batch row",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  TensorList in = qkv(d, g, 3, 2, 3, 5, 4, 4);
                  in.push_back(mask_of({1, 0, 1, 1, 0,  //
                                        0, 0, 0, 0, 0,  // sees nothing: zeros, zero grads
                                        0, 0, 0, 0, 1},
                                       3, 5));
                  return in;
                },
                .apply =
                    [](const TensorList& in) {
                      return attention(in[0], in[1], in[2], Tensor(), in[3]);
                    }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "causal + mask: query 0 sees only a masked key",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  TensorList in = qkv(d, g, 2, 1, 4, 4, 3, 3);
                  in.push_back(mask_of({0, 1, 1, 1, 1, 0, 1, 1}, 2, 4));
                  return in;
                },
                .apply =
                    [](const TensorList& in) {
                      return attention(in[0], in[1], in[2], Tensor(), in[3], {.causal = true});
                    }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "strided (B, T, H, Dh) inputs transposed to (B, H, T, Dh)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 4, 3, 4}, d, g), random_tensor({2, 5, 3, 4}, d, g),
                          random_tensor({2, 5, 3, 2}, d, g)};
                },
                .apply =
                    [](const TensorList& in) {
                      Tensor out =
                          attention(transpose(in[0], 1, 2), transpose(in[1], 1, 2),
                                    transpose(in[2], 1, 2), Tensor(), Tensor(), {.causal = true});
                      return reshape(transpose(out, 1, 2), {2, 4, 6});
                    }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "feature dim not contiguous (copied)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({1, 2, 4, 3}, d, g), random_tensor({1, 2, 4, 3}, d, g),
                          random_tensor({1, 2, 3, 4}, d, g)};
                },
                .apply =
                    [](const TensorList& in) {
                      return attention(in[0], in[1], transpose(in[2], 2, 3));
                    }});
KILN_OP_SAMPLE({.op = "attention",
                .variant = "sizes across block boundaries, causal Tq < Tk, with bias and mask",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  const int64_t tq = kernels::kAttentionBlockQ + 5;
                  const int64_t tk = kernels::kAttentionBlockK + 3;
                  TensorList in = qkv(d, g, 1, 1, tq, tk, 2, 3);
                  in.push_back(random_tensor({tq, tk}, d, g));
                  std::vector<double> keep(static_cast<size_t>(tk), 1.0);
                  keep[1] = keep[tk - 2] = 0.0;
                  in.push_back(mask_of(keep, 1, tk));
                  return in;
                },
                .apply =
                    [](const TensorList& in) {
                      return attention(in[0], in[1], in[2], in[3], in[4], {.causal = true});
                    },
                .wrt = {0, 1, 2}});

TEST(Attention, OutputIsLaidOutAsBTHD) {
  Generator gen(3);
  Tensor q = uniform({2, 3, 5, 4}, -1, 1, gen), k = uniform({2, 3, 6, 4}, -1, 1, gen);
  Tensor v = uniform({2, 3, 6, 7}, -1, 1, gen);
  Tensor out = attention(q, k, v);
  EXPECT_EQ(out.shape(), (Shape{2, 3, 5, 7}));
  EXPECT_EQ(out.strides(), (Strides{5 * 3 * 7, 7, 3 * 7, 1}));
  Tensor merged = reshape(transpose(out, 1, 2), {2, 5, 21});
  EXPECT_TRUE(merged.shares_storage(out));
}

TEST(Attention, MatchesSoftmaxFormula) {
  // One head, by hand: out_i = sum_j softmax_j(q_i . k_j / sqrt(2)) v_j.
  Tensor q = from_vector(std::vector<float>{1, 0, 0, 1}, {1, 1, 2, 2});
  Tensor k = from_vector(std::vector<float>{1, 1, 2, 0, 0, 3}, {1, 1, 3, 2});
  Tensor v = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 1, 3, 2});
  for (bool causal : {false, true}) {
    std::vector<double> out = to_vector(attention(q, k, v, Tensor(), Tensor(), {.causal = causal}));
    const double s = 1.0 / std::sqrt(2.0);
    const double dots[2][3] = {{1, 2, 0}, {1, 0, 3}};
    for (int i = 0; i < 2; ++i) {
      const int visible = causal ? i + 2 : 3;  // key j <= i + (3 - 2)
      double z = 0, o[2] = {0, 0};
      for (int j = 0; j < visible; ++j) {
        const double e = std::exp(dots[i][j] * s);
        z += e;
        o[0] += e * (1 + 2 * j);
        o[1] += e * (2 + 2 * j);
      }
      EXPECT_NEAR(out[i * 2 + 0], o[0] / z, 1e-5) << causal;
      EXPECT_NEAR(out[i * 2 + 1], o[1] / z, 1e-5) << causal;
    }
  }
}

TEST(Attention, EmptySizes) {
  for (DType d : {DType::kF32, DType::kF64}) {
    // No keys: every row sees nothing and outputs zeros.
    Tensor q = ones({1, 2, 3, 4}, d).set_requires_grad();
    Tensor k = ones({1, 2, 0, 4}, d).set_requires_grad();
    Tensor v = ones({1, 2, 0, 5}, d).set_requires_grad();
    Tensor out = attention(q, k, v);
    EXPECT_EQ(out.shape(), (Shape{1, 2, 3, 5}));
    for (double x : to_vector(out)) EXPECT_EQ(x, 0.0);
    sum(out).backward();
    for (double x : to_vector(q.grad())) EXPECT_EQ(x, 0.0);
    EXPECT_EQ(k.grad().numel(), 0);
    // No queries, no batch.
    EXPECT_EQ(
        attention(ones({1, 2, 0, 4}, d), ones({1, 2, 3, 4}, d), ones({1, 2, 3, 4}, d)).numel(), 0);
    EXPECT_EQ(attention(ones({0, 2, 3, 4}, d), ones({0, 2, 3, 4}, d), ones({0, 2, 3, 4}, d),
                        Tensor(), Tensor(), {.causal = true})
                  .numel(),
              0);
  }
}

TEST(Attention, BadArgumentsNameTheOpAndShapes) {
  auto expect_error = [](auto fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no exception, expected one containing: " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  Tensor q = zeros({2, 3, 4, 8}), k = zeros({2, 3, 5, 8}), v = zeros({2, 3, 5, 6});
  expect_error(
      [&] {
        attention(q, zeros({2, 3, 5, 7}), v);
      },
      "attention: q (B, H, Tq, Dh) (2, 3, 4, 8), k (B, H, Tk, Dh) (2, 3, 5, 7) and v "
      "(B, H, Tk, Dv) (2, 3, 5, 6) do not match");
  expect_error([&] { attention(q, k, zeros({2, 3, 4, 6})); }, "do not match");
  expect_error([&] { attention(q, k, zeros({2, 1, 5, 6})); }, "do not match");
  expect_error(
      [&] {
        attention(zeros({3, 4, 8}), k, v);
      },
      "attention: q (B, H, Tq, Dh) must have rank 4, got shape (3, 4, 8)");
  expect_error(
      [&] {
        attention(q, zeros({2, 3, 5, 8}, DType::kF64), v);
      },
      "attention: dtypes differ");
  expect_error(
      [&] {
        attention(zeros({2, 3, 4, 8}, DType::kI32), k, v);
      },
      "attention: needs an f32 or f64 tensor, got i32");
  expect_error(
      [&] {
        attention(q, k, v, zeros({3, 5, 4}));
      },
      "attention: bias (3, 5, 4) does not broadcast to (B, H, Tq, Tk) (2, 3, 4, 5)");
  expect_error([&] { attention(q, k, v, zeros({1, 1, 2, 3, 4, 5})); }, "does not broadcast");
  expect_error(
      [&] {
        attention(q, k, v, Tensor(), ones({2, 4}, DType::kBool));
      },
      "attention: key_padding_mask (2, 4) must be (B, Tk) = (2, 5)");
  expect_error(
      [&] {
        attention(q, k, v, Tensor(), ones({2, 5}));
      },
      "attention: key_padding_mask must be bool, got f32 of shape (2, 5)");
  expect_error(
      [&] {
        attention(zeros({1, 1, 2, 0}), zeros({1, 1, 2, 0}), zeros({1, 1, 2, 3}));
      },
      "attention: head dim is 0");
}

}  // namespace
}  // namespace kiln::testing
