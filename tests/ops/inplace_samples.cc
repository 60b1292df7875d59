// Forward tests of the in-place updates: values, broadcasting, writes through
// strided views, dtypes, and refusal of tensors that require grad.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

void expect_error(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected \"" << expected << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << expected << "\"";
  }
}

constexpr char kRefusal[] = ": in-place update of a tensor that requires grad; use a NoGradGuard";

KILN_FORWARD_SAMPLE(add_, ValuesAlphaAndBroadcast) {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::kF32);
  Tensor alias = x;  // shares storage: sees the update
  add_(x, from_vector({10, 20, 30}, {3}, DType::kF32));
  EXPECT_EQ(to_vector(alias), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  add_(x, ones({2, 1}), -0.5);
  EXPECT_EQ(to_vector(x), (std::vector<double>{10.5, 21.5, 32.5, 13.5, 24.5, 35.5}));
  // Into a transposed, strided view: only the viewed elements change.
  Tensor base = zeros({3, 4}, DType::kF64);
  Tensor view = transpose(slice(base, 1, 0, 4, 2), 0, 1);  // (2, 3), columns 0 and 2
  add_(view, from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::kF64));
  EXPECT_EQ(to_vector(base), (std::vector<double>{1, 0, 4, 0, 2, 0, 5, 0, 3, 0, 6, 0}));
}

KILN_FORWARD_SAMPLE(add_, Errors) {
  expect_error(
      [] {
        add_(zeros({2, 3}), zeros({3, 2}));
      },
      "add_: cannot broadcast (3, 2) to (2, 3)");
  expect_error([] { add_(zeros({2}), zeros({2}, DType::kF64)); },
               "add_: dtypes differ: f32 (2,) and f64 (2,)");
}

KILN_FORWARD_SAMPLE(add_, RefusesTensorsRequiringGrad) {
  Tensor w = ones({2}).set_requires_grad(true);
  expect_error([&] { add_(w, ones({2})); }, std::string("add_") + kRefusal);
  EXPECT_EQ(to_vector(w), (std::vector<double>{1, 1}));
  {
    NoGradGuard no_grad;
    add_(w, ones({2}), 2.0);
  }
  EXPECT_EQ(to_vector(w), (std::vector<double>{3, 3}));
  EXPECT_TRUE(w.is_leaf());
}

KILN_FORWARD_SAMPLE(mul_, ValuesAndViews) {
  Tensor x = from_vector({1, -2, 3, 4}, {2, 2}, DType::kF64);
  mul_(x, -2.0);
  EXPECT_EQ(to_vector(x), (std::vector<double>{-2, 4, -6, -8}));
  mul_(narrow(x, 1, 1, 1), 0.5);  // second column only
  EXPECT_EQ(to_vector(x), (std::vector<double>{-2, 2, -6, -4}));
  mul_(zeros({0}), 3.0);  // empty: nothing to do
}

KILN_FORWARD_SAMPLE(mul_, RefusesTensorsRequiringGrad) {
  Tensor w = ones({2}).set_requires_grad(true);
  expect_error([&] { mul_(w, 2.0); }, std::string("mul_") + kRefusal);
  NoGradGuard no_grad;
  mul_(w, 2.0);
  EXPECT_EQ(to_vector(w), (std::vector<double>{2, 2}));
}

KILN_FORWARD_SAMPLE(copy_, ValuesBroadcastAndDtypes) {
  Tensor dst = zeros({2, 3}, DType::kF32);
  copy_(dst, from_vector({1.25, 2.5, 3.75}, {3}, DType::kF64));  // converted to f32
  EXPECT_EQ(to_vector(dst), (std::vector<double>{1.25, 2.5, 3.75, 1.25, 2.5, 3.75}));
  Tensor ints = zeros({3}, DType::kI64);
  copy_(ints, from_vector({7, -1, 2}, {3}, DType::kF32));
  EXPECT_EQ(ints.dtype(), DType::kI64);
  EXPECT_EQ(to_vector(ints), (std::vector<double>{7, -1, 2}));
  // From a transposed source into a strided destination.
  Tensor base = zeros({2, 4}, DType::kF32);
  copy_(slice(base, 1, 1, 4, 2), transpose(from_vector({1, 2, 3, 4}, {2, 2}, DType::kF32), 0, 1));
  EXPECT_EQ(to_vector(base), (std::vector<double>{0, 1, 0, 3, 0, 2, 0, 4}));
  expect_error([] { copy_(zeros({2}), zeros({3})); }, "copy_: cannot broadcast (3,) to (2,)");
}

KILN_FORWARD_SAMPLE(copy_, RefusesTensorsRequiringGrad) {
  Tensor w = zeros({2}).set_requires_grad(true);
  expect_error([&] { copy_(w, ones({2})); }, std::string("copy_") + kRefusal);
  EXPECT_EQ(to_vector(w), (std::vector<double>{0, 0}));
  // A result of an op (a non-leaf in a graph) is refused too.
  Tensor y = mul_scalar(w, 2.0);
  expect_error([&] { copy_(y, ones({2})); }, std::string("copy_") + kRefusal);
  NoGradGuard no_grad;
  copy_(w, ones({2}));
  EXPECT_EQ(to_vector(w), (std::vector<double>{1, 1}));
}

KILN_FORWARD_SAMPLE(fill_, ValuesViewsAndDtypes) {
  Tensor x = zeros({2, 3}, DType::kF32);
  fill_(x, 2.5);
  EXPECT_EQ(to_vector(x), (std::vector<double>{2.5, 2.5, 2.5, 2.5, 2.5, 2.5}));
  fill_(slice(x, 1, 0, 3, 2), -1);  // columns 0 and 2
  EXPECT_EQ(to_vector(x), (std::vector<double>{-1, 2.5, -1, -1, 2.5, -1}));
  for (DType d : {DType::kF64, DType::kBF16, DType::kI32, DType::kI64, DType::kBool}) {
    Tensor t = zeros({3}, d);
    fill_(t, 1);
    EXPECT_EQ(to_vector(t), (std::vector<double>{1, 1, 1})) << dtype_name(d);
  }
  Tensor s = scalar_tensor(0);
  fill_(s, 4);
  EXPECT_EQ(s.item<double>(), 4);
}

KILN_FORWARD_SAMPLE(fill_, RefusesTensorsRequiringGrad) {
  Tensor w = zeros({2}).set_requires_grad(true);
  expect_error([&] { fill_(w, 1); }, std::string("fill_") + kRefusal);
  // With grad mode off the update is allowed (how initialisers run).
  {
    NoGradGuard no_grad;
    fill_(w, 3);
  }
  EXPECT_EQ(to_vector(w), (std::vector<double>{3, 3}));
  // A tensor that does not require grad is fine in grad mode.
  Tensor plain = zeros({2});
  fill_(plain, 1);
  EXPECT_EQ(to_vector(plain), (std::vector<double>{1, 1}));
}

}  // namespace
}  // namespace kiln::testing
