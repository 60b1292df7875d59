#include "kernels/copy.h"

#include <algorithm>
#include <cstring>

#include "kernels/parallel.h"

namespace kiln::kernels {
namespace {

constexpr int kMaxRank = 16;

template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, BFloat16>) {
    return BFloat16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<From, BFloat16>) {
    return static_cast<To>(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

template <class T, class F>
void with_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      return f(float{});
    case DType::kF64:
      return f(double{});
    case DType::kBF16:
      return f(BFloat16{});
    case DType::kI32:
      return f(int32_t{});
    case DType::kI64:
      return f(int64_t{});
    case DType::kBool:
      return f(bool{});
  }
}

// Drops size-1 dims and merges dims that are contiguous in both operands.
int coalesce(const int64_t* shape, const int64_t* dst_strides, const int64_t* src_strides, int rank,
             int64_t* out_shape, int64_t* out_dst, int64_t* out_src) {
  int n = 0;
  for (int i = 0; i < rank; ++i) {
    if (shape[i] == 1) continue;
    if (n > 0 && out_dst[n - 1] == dst_strides[i] * shape[i] &&
        out_src[n - 1] == src_strides[i] * shape[i]) {
      out_shape[n - 1] *= shape[i];
      out_dst[n - 1] = dst_strides[i];
      out_src[n - 1] = src_strides[i];
      continue;
    }
    out_shape[n] = shape[i];
    out_dst[n] = dst_strides[i];
    out_src[n] = src_strides[i];
    ++n;
  }
  if (n == 0) {
    out_shape[0] = 1;
    out_dst[0] = 1;
    out_src[0] = 1;
    n = 1;
  }
  return n;
}

template <class To, class From>
void copy_typed(To* dst, const From* src, const int64_t* shape, const int64_t* ds,
                const int64_t* ss, int rank) {
  const int64_t inner = shape[rank - 1];
  const int64_t dsi = ds[rank - 1];
  const int64_t ssi = ss[rank - 1];
  int64_t rows = 1;
  for (int i = 0; i < rank - 1; ++i) rows *= shape[i];
  if (inner == 0 || rows == 0) return;
  parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / inner), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      int64_t od = 0, os = 0, r = row;
      for (int i = rank - 2; i >= 0; --i) {
        const int64_t idx = r % shape[i];
        r /= shape[i];
        od += idx * ds[i];
        os += idx * ss[i];
      }
      To* d = dst + od;
      const From* s = src + os;
      if constexpr (std::is_same_v<To, From>) {
        if (dsi == 1 && ssi == 1) {
          std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(To));
          continue;
        }
      }
      for (int64_t i = 0; i < inner; ++i) d[i * dsi] = convert<To>(s[i * ssi]);
    }
  });
}

}  // namespace

void copy_strided(const StridedOperand& dst, const StridedOperand& src, const int64_t* shape,
                  int rank) {
  for (int i = 0; i < rank; ++i) {
    if (shape[i] == 0) return;
  }
  int64_t cshape[kMaxRank], cdst[kMaxRank], csrc[kMaxRank];
  const int n =
      coalesce(shape, dst.strides, src.strides, std::min(rank, kMaxRank), cshape, cdst, csrc);
  if (n == 1 && cdst[0] == 1 && csrc[0] == 1) {
    if (dst.dtype == DType::kF32 && src.dtype == DType::kBF16) {
      return bf16_to_f32(static_cast<const uint16_t*>(src.data), static_cast<float*>(dst.data),
                         cshape[0]);
    }
    if (dst.dtype == DType::kBF16 && src.dtype == DType::kF32) {
      return f32_to_bf16(static_cast<const float*>(src.data), static_cast<uint16_t*>(dst.data),
                         cshape[0]);
    }
  }
  with_type<void>(dst.dtype, [&](auto to) {
    using To = decltype(to);
    with_type<void>(src.dtype, [&](auto from) {
      using From = decltype(from);
      copy_typed(static_cast<To*>(dst.data), static_cast<const From*>(src.data), cshape, cdst, csrc,
                 n);
    });
  });
}

void fill(void* dst, DType dtype, int64_t n, double value) {
  with_type<void>(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = convert<T>(value);
    T* d = static_cast<T*>(dst);
    parallel_for(n, kElementwiseGrain, [&](int64_t b, int64_t e) { std::fill(d + b, d + e, v); });
  });
}

}  // namespace kiln::kernels
