#include "src/ops/linalg/matmul_plan.h"

#include "kiln/ops/flops.h"

#include <algorithm>

#include "kiln/core/context.h"
#include "kiln/core/error.h"

namespace kiln::ops_internal {
namespace {

// Matrix strides (row, column) of the last two dims of t.
void matrix_strides(const Tensor& t, int64_t out[2]) {
  out[0] = t.strides()[t.dim() - 2];
  out[1] = t.strides()[t.dim() - 1];
}

// t itself if oneDNN can read its matrices in place, else a contiguous copy.
Tensor blas_operand(const Tensor& t, bool* copied) {
  int64_t s[2];
  matrix_strides(t, s);
  *copied = !kernels::matmul_operand_is_blas_like(t.size(-2), t.size(-1), s);
  return *copied ? as_contiguous(t) : t;
}

}  // namespace

bool merge_dims(IntList sizes, IntList strides, int64_t fallback, int64_t* size, int64_t* stride) {
  int64_t n = 1, s = fallback;
  bool any = false;
  for (size_t j = sizes.size(); j-- > 0;) {
    if (sizes[j] == 1) continue;
    if (!any) {
      n = sizes[j];
      s = strides[j];
      any = true;
    } else if (strides[j] == s * n) {
      n *= sizes[j];
    } else {
      return false;
    }
  }
  *size = n;
  *stride = s;
  return true;
}

MatmulPlan plan_matmul(const Tensor& a_in, const Tensor& b_in) {
  MatmulPlan plan;
  plan.a = blas_operand(a_in, &plan.a_copied);
  plan.b = blas_operand(b_in, &plan.b_copied);
  const Tensor& a = plan.a;
  const Tensor& b = plan.b;
  const int64_t ra = a.dim() - 2, rb = b.dim() - 2;
  const int64_t br = std::max(ra, rb);
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);

  // Batch dims aligned from the right; stride 0 where an operand broadcasts.
  Shape batch(br), a_bs(br), b_bs(br);
  for (int64_t i = 0; i < br; ++i) {
    const int64_t ia = i - (br - ra), ib = i - (br - rb);
    const int64_t sa = ia >= 0 ? a.shape()[ia] : 1, sb = ib >= 0 ? b.shape()[ib] : 1;
    batch[i] = sa == 1 ? sb : sa;
    a_bs[i] = sa == 1 ? 0 : a.strides()[ia];
    b_bs[i] = sb == 1 ? 0 : b.strides()[ib];
  }
  plan.out_shape = batch;
  plan.out_shape.push_back(m);
  plan.out_shape.push_back(n);

  kernels::MatmulDesc& d = plan.desc;
  d.dtype = a.dtype();
  d.m = m;
  d.k = k;
  d.n = n;
  matrix_strides(a, d.a_strides);
  matrix_strides(b, d.b_strides);

  // A batch of a against one shared b: one (B * M, K) @ (K, N) product.
  const bool b_shared = std::all_of(b_bs.begin(), b_bs.end(), [](int64_t s) { return s == 0; });
  if (b_shared && br > 0) {
    Shape sizes = batch, strides = a_bs;
    sizes.push_back(m);
    strides.push_back(d.a_strides[0]);
    int64_t rows = 0, row_stride = 0;
    if (merge_dims(sizes, strides, d.a_strides[0], &rows, &row_stride)) {
      const int64_t s[2] = {row_stride, d.a_strides[1]};
      if (kernels::matmul_operand_is_blas_like(rows, k, s)) {
        d.batch_rank = 0;
        d.m = rows;
        d.a_strides[0] = row_stride;
        return plan;
      }
    }
  }

  // Coalesce: drop size-1 batch dims, merge neighbours both operands allow.
  int rank = 0;
  for (int64_t i = 0; i < br; ++i) {
    if (batch[i] == 1) continue;
    if (rank > 0 && d.a_batch_strides[rank - 1] == a_bs[i] * batch[i] &&
        d.b_batch_strides[rank - 1] == b_bs[i] * batch[i]) {
      d.batch[rank - 1] *= batch[i];
      d.a_batch_strides[rank - 1] = a_bs[i];
      d.b_batch_strides[rank - 1] = b_bs[i];
      continue;
    }
    KILN_CHECK(rank < kernels::MatmulDesc::kMaxBatchRank, "matmul: more than ",
               kernels::MatmulDesc::kMaxBatchRank, " batch dims that cannot be merged in ",
               shape_str(a_in.shape()), " @ ", shape_str(b_in.shape()));
    d.batch[rank] = batch[i];
    d.a_batch_strides[rank] = a_bs[i];
    d.b_batch_strides[rank] = b_bs[i];
    ++rank;
  }
  d.batch_rank = rank;
  return plan;
}

Tensor run_matmul(const MatmulPlan& plan) {
  Tensor c = Tensor::empty(plan.out_shape, plan.a.dtype());
  // Every product (forward and both backward ones) comes through here.
  FlopCounter::add(2 * c.numel() * plan.a.size(-1));
  const kernels::MatmulDesc& d = plan.desc;
  switch (d.dtype) {
    case DType::kF64:
      kernels::ref::matmul(d, plan.a.data<double>(), plan.b.data<double>(), c.data<double>());
      break;
    case DType::kF32:
    case DType::kBF16:
      kernels::onednn::matmul(Context::current().onednn(), d, plan.a.raw_data(), plan.b.raw_data(),
                              c.raw_data());
      break;
    default:
      KILN_FAIL("matmul: unsupported dtype ", dtype_name(d.dtype));
  }
  return c;
}

Tensor matmul_values(const Tensor& a, const Tensor& b) { return run_matmul(plan_matmul(a, b)); }

}  // namespace kiln::ops_internal
