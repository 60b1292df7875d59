#include <gtest/gtest.h>

#include <cstdint>

#include "kiln/kiln.h"

namespace kiln {
namespace {

TEST(Tensor, StorageIs64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000, 100000}) {
    Tensor t = Tensor::empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  }
}

TEST(Tensor, FactoriesAndItem) {
  EXPECT_EQ(to_vector(full({2, 2}, 1.5)), (std::vector<double>{1.5, 1.5, 1.5, 1.5}));
  EXPECT_EQ(to_vector(arange(4)), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(scalar_tensor(2.5).item<double>(), 2.5);
  EXPECT_EQ(scalar_tensor(2.5).dim(), 0);
  EXPECT_THROW(zeros({2}).item<double>(), Error);
}

TEST(Tensor, CopyingSharesDataCloneDoesNot) {
  Tensor a = zeros({3});
  Tensor b = a;
  EXPECT_TRUE(b.shares_storage(a));
  Tensor c = clone(a);
  EXPECT_FALSE(c.shares_storage(a));
  a.data<float>()[0] = 5;
  EXPECT_EQ(b.data<float>()[0], 5);
  EXPECT_EQ(c.data<float>()[0], 0);
}

TEST(Tensor, DtypesRoundTrip) {
  const std::vector<double> values{1, -2, 3};
  for (DType d : {DType::kF32, DType::kF64, DType::kBF16, DType::kI32, DType::kI64}) {
    EXPECT_EQ(to_vector(from_vector(values, {3}, d)), values) << dtype_name(d);
  }
  EXPECT_EQ(dtype_size(DType::kBF16), 2);
}

TEST(Tensor, Bf16RoundsToNearestEven) {
  EXPECT_EQ(BFloat16::to_float(BFloat16::from_float(1.0f)), 1.0f);
  // 1 + 2^-8 is halfway between two bf16 values: rounds to even (1.0).
  EXPECT_EQ(BFloat16::to_float(BFloat16::from_float(1.0f + 0x1p-8f)), 1.0f);
  EXPECT_EQ(BFloat16::to_float(BFloat16::from_float(1.0f + 0x1.8p-8f)), 1.0f + 0x1p-7f);
}

TEST(Tensor, PrintingIsReadable) {
  Tensor t = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(t.to_string(), "Tensor([[1, 2],\n        [3, 4]], shape=(2, 2), dtype=f32)");
  EXPECT_EQ(arange(10, DType::kF32).to_string(),
            "Tensor([0, 1, 2, ..., 7, 8, 9], shape=(10,), dtype=f32)");
}

TEST(Tensor, WrongDtypeAccessThrows) { EXPECT_THROW(zeros({2}).data<double>(), Error); }

}  // namespace
}  // namespace kiln
