#include "kiln/ops/reduce.h"
#include "src/ops/op_util.h"

namespace kiln {

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  ops_internal::check_f32_or_f64("argmax", x);
  const int64_t d = wrap_dim(dim, x.dim(), "argmax");
  const int64_t r = x.shape()[d];
  KILN_CHECK(r > 0, "argmax: empty dim ", dim, " of ", shape_str(x.shape()));
  Tensor src = as_contiguous(x);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.shape()[i];
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.shape()[i];
  Shape out_shape = x.shape();
  if (keepdim) {
    out_shape[d] = 1;
  } else {
    out_shape.erase(out_shape.begin() + d);
  }
  Tensor out = Tensor::empty(out_shape, DType::kI64);
  int64_t* dst = out.data<int64_t>();
  ops_internal::dispatch_f32_f64("argmax", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = src.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = 0;
        for (int64_t k = 1; k < r; ++k) {
          if (p[(o * r + k) * inner + i] > p[(o * r + best) * inner + i]) best = k;
        }
        dst[o * inner + i] = best;
      }
    }
  });
  return out;
}

}  // namespace kiln
