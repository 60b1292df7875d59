// Tensor views: views of views sharing storage, strides and offsets,
// contiguity, 0-size tensors, and copies between strided views.
#include <gtest/gtest.h>

#include "kiln/kiln.h"

namespace kiln {
namespace {

TEST(TensorMore, ViewsOfViewsShareStorage) {
  Tensor base = arange(24, DType::kF32);
  Tensor r = reshape(base, {2, 3, 4});
  Tensor p = permute(r, {2, 0, 1});  // (4, 2, 3)
  Tensor s = slice(p, 0, 1, 4, 2);   // (2, 2, 3): p[1], p[3]
  Tensor n = narrow(s, 2, 1, 2);     // (2, 2, 2)
  Tensor u = unsqueeze(n, 0);        // (1, 2, 2, 2)
  for (const Tensor& v : {r, p, s, n, u}) EXPECT_TRUE(v.shares_storage(base));
  EXPECT_EQ(u.shape(), (Shape{1, 2, 2, 2}));
  // n[i][j][k] = base[j*12 + (k+1)*4 + (2i+1)].
  EXPECT_EQ(to_vector(n), (std::vector<double>{5, 9, 17, 21, 7, 11, 19, 23}));
  EXPECT_EQ(n.offset(), 1 + 4);
  EXPECT_EQ(n.strides(), (Strides{2, 12, 4}));
  // A write through the innermost view is seen by the base and every view.
  fill_(n, -1);
  EXPECT_EQ(to_vector(base)[5], -1);
  EXPECT_EQ(to_vector(base)[23], -1);
  EXPECT_EQ(to_vector(base)[4], 4);
  EXPECT_EQ(to_vector(r)[5], -1);
  // clone of the view is contiguous and independent.
  Tensor c = clone(n);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage(base));
  fill_(n, 0);
  EXPECT_EQ(to_vector(c)[0], -1);
}

TEST(TensorMore, ContiguityOfViews) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_FALSE(transpose(x, 0, 1).is_contiguous());
  EXPECT_TRUE(narrow(x, 0, 1, 1).is_contiguous());   // one whole block
  EXPECT_FALSE(narrow(x, 2, 0, 2).is_contiguous());  // rows with gaps
  EXPECT_TRUE(unsqueeze(x, 1).is_contiguous());
  EXPECT_FALSE(expand(zeros({3, 1}), {3, 5}).is_contiguous());
  EXPECT_TRUE(expand(zeros({1, 4}), {1, 4}).is_contiguous());
  // contiguous() of a contiguous tensor is the tensor itself; of a view, a copy.
  EXPECT_EQ(contiguous(x).impl_ptr(), x.impl_ptr());
  Tensor t = contiguous(transpose(x, 1, 2));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_FALSE(t.shares_storage(x));
}

TEST(TensorMore, ReshapeOfAViewCopiesOnlyWhenItMust) {
  Tensor x = reshape(arange(12, DType::kF32), {3, 4});
  // Rows of a row slice stay viewable.
  Tensor rows = narrow(x, 0, 1, 2);
  EXPECT_TRUE(reshape(rows, {8}).shares_storage(x));
  EXPECT_EQ(to_vector(reshape(rows, {8})), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11}));
  // A transposed tensor flattened must copy, and keeps the transposed order.
  Tensor flat = reshape(transpose(x, 0, 1), {12});
  EXPECT_FALSE(flat.shares_storage(x));
  EXPECT_EQ(to_vector(flat)[1], 4);
  // Splitting a dim of a transposed view is still a view.
  Tensor split = reshape(transpose(x, 0, 1), {2, 2, 3});
  EXPECT_TRUE(split.shares_storage(x));
  EXPECT_EQ(to_vector(split),
            to_vector(contiguous(reshape(contiguous(transpose(x, 0, 1)), {2, 2, 3}))));
}

TEST(TensorMore, ZeroSizeTensors) {
  Tensor e = zeros({0, 3});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.nbytes(), 0);
  EXPECT_EQ(to_vector(e), std::vector<double>{});
  EXPECT_EQ(e.to_string(), "Tensor([], shape=(0, 3), dtype=f32)");
  EXPECT_EQ(reshape(e, {3, 0, 5}).shape(), (Shape{3, 0, 5}));
  EXPECT_EQ(transpose(e, 0, 1).shape(), (Shape{3, 0}));
  EXPECT_EQ(clone(e).shape(), (Shape{0, 3}));
  EXPECT_EQ(slice(zeros({4}), 0, 2, 2).numel(), 0);
  // Sums over an empty dim are 0; the other dims keep their size.
  EXPECT_EQ(to_vector(sum(e, {0})), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(sum(e, {1}).shape(), (Shape{0}));
  EXPECT_THROW(reshape(e, {-1, 0}), Error);  // -1 next to 0 is ambiguous
}

TEST(TensorMore, CopyIntoBetweenStridedViewsOfOneStorage) {
  // Copy the first column of a (3, 3) into its last row.
  Tensor x = reshape(arange(9, DType::kF64), {3, 3});
  Tensor col = clone(narrow(x, 1, 0, 1));
  copy_into(narrow(x, 0, 2, 1), transpose(col, 0, 1));
  EXPECT_EQ(to_vector(x), (std::vector<double>{0, 1, 2, 3, 4, 5, 0, 3, 6}));
  EXPECT_THROW(copy_into(x, zeros({3}, DType::kF64)), Error);
}

TEST(TensorMore, ExpandIsAZeroStrideView) {
  Tensor x = from_vector({1, 2, 3}, {3, 1}, DType::kF32);
  Tensor e = expand(x, {2, 3, 4});
  EXPECT_TRUE(e.shares_storage(x));
  EXPECT_EQ(e.strides(), (Strides{0, 1, 0}));
  std::vector<double> values = to_vector(e);
  EXPECT_EQ(values.size(), 24u);
  EXPECT_EQ(values[0], 1);
  EXPECT_EQ(values[5], 2);
  EXPECT_EQ(values[23], 3);
  EXPECT_EQ(expand(x, {-1, 2}).shape(), (Shape{3, 2}));
}

}  // namespace
}  // namespace kiln
