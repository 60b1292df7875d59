// Samples and forward tests of the remaining shape ops: concat, stack,
// squeeze, unsqueeze, flatten, pad, index_select, gather, one_hot,
// space_to_depth, depth_to_space, slice and narrow.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// Runs f, which must throw a kiln::Error whose message contains `expected`.
void expect_error(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected \"" << expected << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << expected << "\"";
  }
}

std::vector<double> values_of(const Tensor& t) { return to_vector(t); }

TensorList cube(DType d, Generator& g) { return {random_tensor({2, 3, 4}, d, g)}; }

// concat --------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "concat",
                .variant = "three inputs along dim 1, one non-contiguous",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 3, 4}, d, g), random_tensor({2, 1, 4}, d, g),
                          random_tensor({2, 4, 2}, d, g)};
                },
                .apply =
                    [](const TensorList& in) {
                      return concat({in[0], in[1], permute(in[2], {0, 2, 1})}, 1);
                    }});
KILN_OP_SAMPLE({.op = "concat",
                .variant = "last dim, negative, with a 0-size input",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3, 2}, d, g), random_tensor({3, 0}, d, g),
                          random_tensor({3, 3}, d, g)};
                },
                .apply = [](const TensorList& in) { return concat(in, -1); }});
KILN_OP_SAMPLE({.op = "concat",
                .variant = "same input twice (gradients add)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 3}, d, g)};
                },
                .apply =
                    [](const TensorList& in) {
                      return concat({in[0], in[0]}, 0);
                    }});

TEST(ShapeMore, ConcatValues) {
  Tensor a = from_vector({1, 2, 3, 4}, {2, 2}, DType::kF32);
  Tensor b = from_vector({5, 6}, {2, 1}, DType::kF32);
  EXPECT_EQ(values_of(concat({a, b}, 1)), (std::vector<double>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(values_of(concat({a, transpose(a, 0, 1)}, 0)),
            (std::vector<double>{1, 2, 3, 4, 1, 3, 2, 4}));
  Tensor y = concat({a}, 0);
  EXPECT_FALSE(y.shares_storage(a));
  EXPECT_EQ(values_of(y), values_of(a));
}

TEST(ShapeMore, ConcatIntegerAndBool) {
  Tensor a = from_vector(std::vector<int64_t>{1, 2}, {2});
  Tensor b = from_vector(std::vector<int64_t>{-3}, {1});
  Tensor y = concat({a, b}, 0);
  EXPECT_EQ(y.dtype(), DType::kI64);
  EXPECT_EQ(values_of(y), (std::vector<double>{1, 2, -3}));
  Tensor i32 = concat({from_vector({7, 8}, {2}, DType::kI32), zeros({1}, DType::kI32)}, 0);
  EXPECT_EQ(values_of(i32), (std::vector<double>{7, 8, 0}));
  Tensor m = concat({ones({1}, DType::kBool), zeros({2}, DType::kBool)}, 0);
  EXPECT_EQ(values_of(m), (std::vector<double>{1, 0, 0}));
}

TEST(ShapeMore, ConcatErrorsNameTheShapes) {
  expect_error(
      [] {
        concat({zeros({2, 3}), zeros({3, 3})}, 1);
      },
      "concat: shapes (2, 3), (3, 3) differ outside dim 1");
  expect_error(
      [] {
        concat({zeros({2, 3}), zeros({2})}, 0);
      },
      "concat: shapes (2, 3), (2,) differ outside dim 0");
  expect_error(
      [] {
        concat({zeros({2}), zeros({2}, DType::kF64)}, 0);
      },
      "concat: dtypes differ: f32 and f64");
  expect_error([] { concat({}, 0); }, "concat: no tensors given");
  expect_error([] { concat({zeros({2})}, 1); }, "concat: dim 1 is out of range for rank 1");
}

// stack ---------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "stack",
                .variant = "three (2,3) at dim 1",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 3}, d, g), random_tensor({2, 3}, d, g),
                          random_tensor({2, 3}, d, g)};
                },
                .apply = [](const TensorList& in) { return stack(in, 1); }});
KILN_OP_SAMPLE({.op = "stack",
                .variant = "at the new last dim (-1)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3}, d, g), random_tensor({3}, d, g)};
                },
                .apply = [](const TensorList& in) { return stack(in, -1); }});

TEST(ShapeMore, StackValuesAndErrors) {
  Tensor a = from_vector({1, 2}, {2}, DType::kF32);
  Tensor b = from_vector({3, 4}, {2}, DType::kF32);
  Tensor s0 = stack({a, b}, 0);
  EXPECT_EQ(s0.shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of(s0), (std::vector<double>{1, 2, 3, 4}));
  Tensor s1 = stack({a, b}, 1);
  EXPECT_EQ(values_of(s1), (std::vector<double>{1, 3, 2, 4}));
  Tensor scalars = stack({scalar_tensor(5), scalar_tensor(6)}, 0);
  EXPECT_EQ(scalars.shape(), (Shape{2}));
  expect_error(
      [&] {
        stack({a, zeros({3})}, 0);
      },
      "stack: all tensors need the same shape, got (2,) and (3,)");
}

// squeeze, unsqueeze, flatten -----------------------------------------------

KILN_OP_SAMPLE({.op = "squeeze",
                .variant = "(2,1,3) dim 1",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 1, 3}, d, g)};
                },
                .apply = [](const TensorList& in) { return squeeze(in[0], 1); }});
KILN_OP_SAMPLE({.op = "unsqueeze",
                .variant = "(2,3) at -1 of a transposed view",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3, 2}, d, g)};
                },
                .apply =
                    [](const TensorList& in) { return unsqueeze(transpose(in[0], 0, 1), -1); }});
KILN_OP_SAMPLE({.op = "flatten",
                .variant = "dims 1..2 of (2,3,4)",
                .inputs = cube,
                .apply = [](const TensorList& in) { return flatten(in[0], 1, 2); }});
KILN_OP_SAMPLE({.op = "flatten",
                .variant = "all of a permuted view (copies)",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return flatten(permute(in[0], {2, 0, 1}));
                }});

TEST(ShapeMore, SqueezeUnsqueezeFlattenAreViews) {
  Tensor x = arange(6, DType::kF32);
  Tensor u = unsqueeze(reshape(x, {2, 3}), 1);
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3}));
  EXPECT_TRUE(u.shares_storage(x));
  EXPECT_EQ(unsqueeze(x, 1).shape(), (Shape{6, 1}));
  EXPECT_EQ(unsqueeze(scalar_tensor(1), 0).shape(), (Shape{1}));
  Tensor s = squeeze(u, -2);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_TRUE(s.shares_storage(x));
  Tensor f = flatten(reshape(x, {1, 2, 3}), 0, 1);
  EXPECT_EQ(f.shape(), (Shape{2, 3}));
  EXPECT_TRUE(f.shares_storage(x));
  EXPECT_EQ(flatten(scalar_tensor(3)).shape(), (Shape{1}));
  EXPECT_EQ(flatten(zeros({2, 0, 3}), 1).shape(), (Shape{2, 0}));
  // A slice with a step keeps its strides through unsqueeze and squeeze.
  Tensor every_other = slice(x, 0, 0, 6, 2);
  EXPECT_EQ(values_of(squeeze(unsqueeze(every_other, 0), 0)), (std::vector<double>{0, 2, 4}));
  EXPECT_TRUE(squeeze(unsqueeze(every_other, 0), 0).shares_storage(x));
}

TEST(ShapeMore, SqueezeUnsqueezeFlattenErrors) {
  expect_error([] { squeeze(zeros({2, 3}), 1); }, "squeeze: dim 1 of (2, 3) has size 3, not 1");
  expect_error([] { unsqueeze(zeros({2}), 3); }, "unsqueeze: dim 3 is out of range for rank 2");
  expect_error(
      [] {
        flatten(zeros({2, 3, 4}), 2, 1);
      },
      "flatten: start dim 2 is after end dim 1 for (2, 3, 4)");
}

// pad -----------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "pad",
                .variant = "last two dims of (2,3,4), uneven and zero pads",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return pad(in[0], {{1, 0}, {2, 1}}, 0.5);
                }});
KILN_OP_SAMPLE({.op = "pad",
                .variant = "all dims of a transposed view",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3, 2}, d, g)};
                },
                .apply =
                    [](const TensorList& in) {
                      return pad(transpose(in[0], 0, 1), {{1, 1}, {0, 2}});
                    }});

TEST(ShapeMore, PadValues) {
  Tensor x = from_vector({1, 2, 3, 4}, {2, 2}, DType::kF32);
  Tensor y = pad(x, {{0, 1}, {1, 0}}, -1.0);
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(values_of(y), (std::vector<double>{-1, 1, 2, -1, 3, 4, -1, -1, -1}));
  // Only the last dim, and no padding at all.
  EXPECT_EQ(values_of(pad(x, {{2, 0}})), (std::vector<double>{0, 0, 1, 2, 0, 0, 3, 4}));
  Tensor same = pad(x, {{0, 0}, {0, 0}});
  EXPECT_EQ(values_of(same), values_of(x));
  EXPECT_EQ(pad(x, {}).shape(), x.shape());
  // A 0-size input padded to a tensor of fill values.
  EXPECT_EQ(values_of(pad(zeros({0}), {{1, 2}}, 7.0)), (std::vector<double>{7, 7, 7}));
}

TEST(ShapeMore, PadIntegerDtypes) {
  Tensor i = from_vector(std::vector<int64_t>{5, 6}, {2});
  Tensor y = pad(i, {{1, 1}}, 9);
  EXPECT_EQ(y.dtype(), DType::kI64);
  EXPECT_EQ(values_of(y), (std::vector<double>{9, 5, 6, 9}));
  Tensor b = pad(ones({1}, DType::kBool), {{1, 0}});
  EXPECT_EQ(values_of(b), (std::vector<double>{0, 1}));
}

TEST(ShapeMore, PadGradientIsTheInterior) {
  Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::kF32).set_requires_grad(true);
  Tensor y = pad(x, {{1, 2}, {0, 1}});
  Tensor w = arange(y.numel(), DType::kF32);
  sum(mul(y, reshape(w, {5, 4}))).backward();
  // y[1 + i][j] = x[i][j], so dx[i][j] = w[(1 + i) * 4 + j].
  EXPECT_EQ(values_of(x.grad()), (std::vector<double>{4, 5, 6, 8, 9, 10}));
}

TEST(ShapeMore, PadErrors) {
  expect_error(
      [] {
        pad(zeros({2, 3}), {{1, -1}});
      },
      "pad: negative padding in [(1, -1)] for (2, 3)");
  expect_error(
      [] {
        pad(zeros({2}), {{1, 1}, {1, 1}});
      },
      "pad: 2 pads [(1, 1), (1, 1)] for a tensor of shape (2,)");
}

// index_select --------------------------------------------------------------

KILN_OP_SAMPLE(
    {.op = "index_select",
     .variant = "dim 0 with repeated ids",
     .inputs = [](DType d, Generator& g) -> TensorList {
       return {random_tensor({4, 3}, d, g), from_vector(std::vector<int64_t>{2, 0, 2, 3, 2}, {5})};
     },
     .apply = [](const TensorList& in) { return index_select(in[0], 0, in[1]); }});
KILN_OP_SAMPLE({.op = "index_select",
                .variant = "middle dim, i32 ids, non-contiguous input",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({4, 3, 2}, d, g), from_vector({1, 1, 0}, {3}, DType::kI32)};
                },
                .apply =
                    [](const TensorList& in) {
                      return index_select(permute(in[0], {2, 1, 0}), 1, in[1]);
                    }});

TEST(ShapeMore, IndexSelectValuesAndDtypes) {
  Tensor x = reshape(arange(6, DType::kF32), {2, 3});
  Tensor cols = index_select(x, 1, from_vector(std::vector<int64_t>{2, 0, 2}, {3}));
  EXPECT_EQ(values_of(cols), (std::vector<double>{2, 0, 2, 5, 3, 5}));
  Tensor rows = index_select(x, -2, from_vector(std::vector<int64_t>{1}, {1}));
  EXPECT_EQ(values_of(rows), (std::vector<double>{3, 4, 5}));
  Tensor none = index_select(x, 0, zeros({0}, DType::kI64));
  EXPECT_EQ(none.shape(), (Shape{0, 3}));
  Tensor ints = index_select(arange(5, DType::kI64), 0, from_vector({4, 0}, {2}, DType::kI32));
  EXPECT_EQ(ints.dtype(), DType::kI64);
  EXPECT_EQ(values_of(ints), (std::vector<double>{4, 0}));
  Tensor bf = index_select(from_vector({1.5, 2.5}, {2}, DType::kBF16), 0,
                           from_vector(std::vector<int64_t>{1, 1}, {2}));
  EXPECT_EQ(values_of(bf), (std::vector<double>{2.5, 2.5}));
}

TEST(ShapeMore, IndexSelectBackwardSumsRepeatedIds) {
  Tensor x = zeros({3, 2}).set_requires_grad(true);
  Tensor y = index_select(x, 0, from_vector(std::vector<int64_t>{1, 1, 0, 1}, {4}));
  sum(y).backward();
  EXPECT_EQ(values_of(x.grad()), (std::vector<double>{1, 1, 3, 3, 0, 0}));
}

TEST(ShapeMore, IndexSelectErrors) {
  Tensor x = zeros({3, 4});
  expect_error(
      [&] {
        index_select(x, 0, from_vector(std::vector<int64_t>{0, 3}, {2}));
      },
      "index_select: index 3 is out of range for dim 0 of size 3");
  expect_error([&] { index_select(x, 1, from_vector(std::vector<int64_t>{-1}, {1})); },
               "index_select: index -1 is out of range for dim 1 of size 4");
  expect_error([&] { index_select(x, 0, zeros({2}, DType::kF32)); },
               "index_select: index must be i32 or i64, got f32");
  expect_error(
      [&] {
        index_select(x, 0, zeros({1, 1}, DType::kI64));
      },
      "index_select: index must be 1-D, got shape (1, 1)");
}

// gather --------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "gather",
                .variant = "dim 1 with repeats, index smaller than input",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3, 4}, d, g),
                          from_vector(std::vector<int64_t>{0, 0, 3, 1, 2, 1, 3, 3, 3}, {3, 3})};
                },
                .apply = [](const TensorList& in) { return gather(in[0], 1, in[1]); }});
KILN_OP_SAMPLE({.op = "gather",
                .variant = "dim 0 of a transposed 3-d view",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 3, 4}, d, g), randint({2, 2, 2}, 0, 4, g)};
                },
                .apply =
                    [](const TensorList& in) { return gather(transpose(in[0], 0, 2), 0, in[1]); }});

// The definition of torch.gather, looped by hand over a contiguous x.
std::vector<double> gather_reference(const Tensor& x, int64_t dim, const Tensor& index) {
  const std::vector<double> xv = to_vector(x);
  const std::vector<double> iv = to_vector(index);
  const Strides xs = contiguous_strides(x.shape());
  const Strides is = contiguous_strides(index.shape());
  std::vector<double> out(iv.size());
  for (size_t j = 0; j < iv.size(); ++j) {
    int64_t rest = static_cast<int64_t>(j), at = 0;
    for (int64_t d = 0; d < index.dim(); ++d) {
      const int64_t pos = rest / is[d];
      rest %= is[d];
      at += (d == dim ? static_cast<int64_t>(iv[j]) : pos) * xs[d];
    }
    out[j] = xv[at];
  }
  return out;
}

TEST(ShapeMore, GatherMatchesItsDefinition) {
  Generator gen(3);
  Tensor base = uniform({4, 5, 3}, -1, 1, gen);
  Tensor x = permute(base, {1, 2, 0});  // (5, 3, 4), non-contiguous
  for (int64_t dim = 0; dim < 3; ++dim) {
    Shape shape{4, 2, 3};
    Tensor index = randint(shape, 0, x.shape()[dim], gen);
    EXPECT_EQ(values_of(gather(x, dim, index)), gather_reference(contiguous(x), dim, index))
        << "dim " << dim;
  }
  Tensor ints = gather(reshape(arange(6, DType::kI32), {2, 3}), 1,
                       from_vector(std::vector<int64_t>{2, 1, 0, 0}, {2, 2}));
  EXPECT_EQ(ints.dtype(), DType::kI32);
  EXPECT_EQ(values_of(ints), (std::vector<double>{2, 1, 3, 3}));
  EXPECT_EQ(gather(x, 1, zeros({5, 0, 4}, DType::kI64)).shape(), (Shape{5, 0, 4}));
}

TEST(ShapeMore, GatherBackwardScatterAdds) {
  Tensor x = zeros({2, 3}).set_requires_grad(true);
  Tensor index = from_vector(std::vector<int64_t>{2, 2, 0, 1}, {2, 2});
  Tensor y = gather(x, 1, index);
  y.backward(from_vector({1, 10, 100, 1000}, {2, 2}, DType::kF32));
  EXPECT_EQ(values_of(x.grad()), (std::vector<double>{0, 0, 11, 100, 1000, 0}));
}

TEST(ShapeMore, GatherErrors) {
  Tensor x = zeros({2, 3});
  expect_error(
      [&] {
        gather(x, 1, from_vector(std::vector<int64_t>{0, 3}, {1, 2}));
      },
      "gather: index 3 is out of range for dim 1 of size 3 (input shape (2, 3))");
  expect_error(
      [&] {
        gather(x, 0, from_vector(std::vector<int64_t>{0, 1}, {2}));
      },
      "gather: index of shape (2,) must have the rank of the input (2, 3)");
  expect_error(
      [&] {
        gather(x, 0, zeros({1, 4}, DType::kI64));
      },
      "gather: index of shape (1, 4) is larger than the input (2, 3) in dim 1");
}

// one_hot -------------------------------------------------------------------

KILN_FORWARD_SAMPLE(one_hot, ValuesShapesAndDtypes) {
  Tensor index = from_vector(std::vector<int64_t>{2, 0, 1, 2}, {2, 2});
  Tensor y = one_hot(index, 3);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(values_of(y), (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
  for (DType d : {DType::kF64, DType::kBF16, DType::kI32, DType::kI64, DType::kBool}) {
    Tensor t = one_hot(from_vector({1, 0}, {2}, DType::kI32), 2, d);
    EXPECT_EQ(t.dtype(), d);
    EXPECT_EQ(values_of(t), (std::vector<double>{0, 1, 1, 0})) << dtype_name(d);
  }
  EXPECT_EQ(one_hot(zeros({0}, DType::kI64), 4).shape(), (Shape{0, 4}));
  EXPECT_EQ(values_of(one_hot(scalar_tensor(1, DType::kI64), 2)), (std::vector<double>{0, 1}));
}

KILN_FORWARD_SAMPLE(one_hot, OutOfRangeThrows) {
  expect_error(
      [] {
        one_hot(from_vector(std::vector<int64_t>{0, 3}, {2}), 3);
      },
      "one_hot: index 3 is out of range for 3 classes");
  expect_error([] { one_hot(from_vector(std::vector<int64_t>{-1}, {1}), 3); },
               "one_hot: index -1 is out of range for 3 classes");
  expect_error([] { one_hot(zeros({2}), 3); }, "one_hot: index must be i32 or i64, got f32");
}

// space_to_depth, depth_to_space --------------------------------------------

KILN_OP_SAMPLE({.op = "space_to_depth",
                .variant = "(1,4,2,3) block 2",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({1, 4, 2, 3}, d, g)};
                },
                .apply = [](const TensorList& in) { return space_to_depth(in[0], 2); }});
KILN_OP_SAMPLE({.op = "depth_to_space",
                .variant = "(2,1,2,8) block 2",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 1, 2, 8}, d, g)};
                },
                .apply = [](const TensorList& in) { return depth_to_space(in[0], 2); }});

TEST(ShapeMore, SpaceToDepthChannelOrderIsTensorflows) {
  const int64_t n = 2, h = 4, w = 6, c = 3, b = 2;
  Tensor x = reshape(arange(n * h * w * c, DType::kF32), {n, h, w, c});
  Tensor y = space_to_depth(x, b);
  ASSERT_EQ(y.shape(), (Shape{n, h / b, w / b, b * b * c}));
  const std::vector<double> xv = values_of(x), yv = values_of(y);
  // tf.nn.space_to_depth: y[n, i, j, (di * b + dj) * C + k] = x[n, i*b + di, j*b + dj, k].
  for (int64_t in = 0; in < n; ++in) {
    for (int64_t i = 0; i < h / b; ++i) {
      for (int64_t j = 0; j < w / b; ++j) {
        for (int64_t di = 0; di < b; ++di) {
          for (int64_t dj = 0; dj < b; ++dj) {
            for (int64_t k = 0; k < c; ++k) {
              const int64_t yi =
                  ((in * (h / b) + i) * (w / b) + j) * b * b * c + (di * b + dj) * c + k;
              const int64_t xi = ((in * h + i * b + di) * w + j * b + dj) * c + k;
              ASSERT_EQ(yv[yi], xv[xi]);
            }
          }
        }
      }
    }
  }
  Tensor back = depth_to_space(y, b);
  EXPECT_EQ(back.shape(), x.shape());
  EXPECT_EQ(values_of(back), xv);
  // Integer data moves the same way; block 1 is the identity.
  Tensor xi = to_dtype(x, DType::kI64);
  EXPECT_EQ(values_of(space_to_depth(xi, b)), yv);
  EXPECT_EQ(values_of(depth_to_space(x, 1)), xv);
}

TEST(ShapeMore, SpaceToDepthErrors) {
  expect_error(
      [] {
        space_to_depth(zeros({1, 3, 4, 2}), 2);
      },
      "space_to_depth: height and width of (1, 3, 4, 2) must be divisible by the block 2");
  expect_error(
      [] {
        depth_to_space(zeros({1, 2, 2, 6}), 2);
      },
      "depth_to_space: channels of (1, 2, 2, 6) must be divisible by block * block = 4");
  expect_error([] { space_to_depth(zeros({4, 4, 2}), 2); }, "space_to_depth: input (N, H, W, C)");
  expect_error(
      [] {
        depth_to_space(zeros({1, 1, 1, 4}), 0);
      },
      "depth_to_space: block must be positive, got 0");
}

// slice, narrow ---------------------------------------------------------------

KILN_OP_SAMPLE({.op = "slice",
                .variant = "step 2 from a negative start",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({2, 7, 3}, d, g)};
                },
                .apply = [](const TensorList& in) { return slice(in[0], 1, -6, 7, 2); }});
KILN_OP_SAMPLE({.op = "slice",
                .variant = "last dim, negative end, of a slice",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return slice(slice(in[0], 0, 1, 2), -1, 1, -1);
                }});
KILN_OP_SAMPLE({.op = "narrow",
                .variant = "dim 1 of (2,3,4), length 2",
                .inputs = cube,
                .apply = [](const TensorList& in) { return narrow(in[0], 1, 1, 2); }});

TEST(ShapeMore, SliceAndNarrowValues) {
  Tensor x = arange(10, DType::kF32);
  EXPECT_EQ(values_of(slice(x, 0, -7, 10, 2)), (std::vector<double>{3, 5, 7, 9}));
  EXPECT_EQ(values_of(slice(x, 0, 1, 100, 3)), (std::vector<double>{1, 4, 7}));
  EXPECT_EQ(slice(x, 0, 8, 2).numel(), 0);
  EXPECT_EQ(values_of(narrow(x, 0, 8, 2)), (std::vector<double>{8, 9}));
  EXPECT_TRUE(narrow(x, 0, 8, 2).shares_storage(x));
  expect_error([&] { narrow(x, 0, 8, 3); }, "narrow: [8, 11) is out of range for dim 0 of (10,)");
  expect_error([&] { slice(x, 0, 0, 5, 0); }, "slice: step must be positive, got 0");
}

}  // namespace
}  // namespace kiln::testing
