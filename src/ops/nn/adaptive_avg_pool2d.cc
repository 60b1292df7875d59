#include <vector>

#include "kiln/ops/cast.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// (out, in) matrix averaging the PyTorch bins [floor(i in / out),
// ceil((i + 1) in / out)) of a dim of size `in`.
Tensor bin_average_matrix(int64_t out, int64_t in, DType dtype) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t begin = i * in / out, end = ((i + 1) * in + out - 1) / out;
    for (int64_t j = begin; j < end; ++j) m[i * in + j] = 1.0 / static_cast<double>(end - begin);
  }
  return from_vector(m, {out, in}, dtype);
}

}  // namespace

// Composite. Bins that tile the image evenly are an average pool; otherwise
// the bins (which may differ in size or overlap) are a product of averaging
// matrices over H then W, which autodiff differentiates.
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  ops_internal::check_defined("adaptive_avg_pool2d", x, "input");
  KILN_CHECK(x.dim() == 4, "adaptive_avg_pool2d: needs x (N, H, W, C), got ", shape_str(x.shape()));
  const DType t = x.dtype();
  KILN_CHECK(t == DType::kF32 || t == DType::kBF16 || t == DType::kF64,
             "adaptive_avg_pool2d: needs an f32, bf16 or f64 tensor, got ", dtype_name(t),
             " of shape ", shape_str(x.shape()));
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  KILN_CHECK(out_h >= 1 && out_w >= 1 && h >= 1 && w >= 1, "adaptive_avg_pool2d: cannot pool x ",
             shape_str(x.shape()), " to (", out_h, ", ", out_w, ")");
  if (h % out_h == 0 && w % out_w == 0) {
    Pool2dOptions o;
    o.kernel = {h / out_h, w / out_w};
    o.stride = o.kernel;
    return avg_pool2d(x, o);
  }
  // bf16 averages in f32: 1/3 and the like are not exact in bf16.
  const Tensor xf = t == DType::kBF16 ? to_dtype(x, DType::kF32) : x;
  const DType ct = xf.dtype();
  // (out_h, H) @ (N, H, W * C) -> (N, out_h, W * C)
  const Tensor rows = matmul(bin_average_matrix(out_h, h, ct), reshape(xf, {n, h, w * c}));
  // (out_w, W) @ (N * out_h, W, C) -> (N * out_h, out_w, C)
  const Tensor cols = matmul(bin_average_matrix(out_w, w, ct), reshape(rows, {n * out_h, w, c}));
  const Tensor y = reshape(cols, {n, out_h, out_w, c});
  return t == DType::kBF16 ? to_dtype(y, t) : y;
}

}  // namespace kiln
