#include "kernels/matmul.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/copy.h"
#include "kernels/onednn/onednn_util.h"
#include "kiln/core/error.h"

namespace kiln::kernels::onednn {
namespace {

using dnnl::memory;

struct MatmulPrimitive {
  memory::desc a_md, b_md, c_md;
  dnnl::matmul primitive;
};

// dims (batch..., rows, cols), with 1 for broadcast batch dims.
memory::desc operand_md(const MatmulDesc& d, const int64_t* batch_strides, int64_t rows,
                        int64_t cols, const int64_t strides[2], DType dtype) {
  memory::dims dims, st;
  int64_t s[2];
  matmul_operand_is_blas_like(rows, cols, strides, s);
  // Extent of one matrix, the stride given to size-1 (broadcast) batch dims.
  const int64_t span = std::max<int64_t>(1, std::max((rows - 1) * s[0], (cols - 1) * s[1]) + 1);
  for (int i = 0; i < d.batch_rank; ++i) {
    const bool broadcast = batch_strides[i] == 0;
    dims.push_back(broadcast ? 1 : d.batch[i]);
    st.push_back(broadcast ? span : batch_strides[i]);
  }
  dims.push_back(rows);
  dims.push_back(cols);
  st.push_back(s[0]);
  st.push_back(s[1]);
  return memory::desc(dims, dnnl_dtype(dtype), st);
}

memory::desc output_md(const MatmulDesc& d, DType dtype) {
  memory::dims dims, st;
  for (int i = 0; i < d.batch_rank; ++i) dims.push_back(d.batch[i]);
  dims.push_back(d.m);
  dims.push_back(d.n);
  st.resize(dims.size());
  int64_t s = 1;
  for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= dims[i];
  }
  return memory::desc(dims, dnnl_dtype(dtype), st);
}

std::string matmul_key(const MatmulDesc& d, bool native) {
  KeyBuilder key("matmul");
  key.add(static_cast<int64_t>(d.dtype)).add(native ? 1 : 0).add(d.batch_rank);
  key.add(d.batch, d.batch_rank).add(d.a_batch_strides, d.batch_rank);
  key.add(d.b_batch_strides, d.batch_rank);
  key.add(d.m).add(d.n).add(d.k).add(d.a_strides).add(d.b_strides);
  return key.str();
}

std::shared_ptr<MatmulPrimitive> make_primitive(OnednnRuntime& runtime, const MatmulDesc& d) {
  auto p = std::make_shared<MatmulPrimitive>();
  p->a_md = operand_md(d, d.a_batch_strides, d.m, d.k, d.a_strides, d.dtype);
  p->b_md = operand_md(d, d.b_batch_strides, d.k, d.n, d.b_strides, d.dtype);
  p->c_md = output_md(d, d.dtype);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p->a_md, p->b_md, p->c_md), runtime.engine());
  p->primitive = dnnl::matmul(pd);
  return p;
}

// Whether oneDNN runs bf16 matmul on this CPU (cached per runtime).
bool bf16_native(OnednnRuntime& runtime) {
  auto supported = runtime.cached<bool>("matmul:bf16-support", [&] {
    const memory::desc md({2, 2}, memory::data_type::bf16, memory::format_tag::ab);
    return std::make_shared<bool>(try_make_pd(
        [&] { dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), runtime.engine()); }));
  });
  return *supported;
}

void run_f32_or_native(OnednnRuntime& runtime, const MatmulDesc& d, const void* a, const void* b,
                       void* c) {
  const std::string key = matmul_key(d, true);
  auto p = runtime.cached<MatmulPrimitive>(key, [&] { return make_primitive(runtime, d); });
  execute(runtime, p->primitive,
          {{DNNL_ARG_SRC, user_memory(runtime, p->a_md, a)},
           {DNNL_ARG_WEIGHTS, user_memory(runtime, p->b_md, b)},
           {DNNL_ARG_DST, user_memory(runtime, p->c_md, c)}});
}

// Copies a strided bf16 operand into a contiguous f32 buffer laid out in its
// own dims (broadcast batch dims of size 1); updates the strides to match.
std::vector<float> operand_to_f32(const MatmulDesc& d, const void* data, int64_t rows, int64_t cols,
                                  int64_t* batch_strides, int64_t strides[2]) {
  const int rank = d.batch_rank + 2;
  std::vector<int64_t> shape(rank), src_strides(rank), dst_strides(rank);
  for (int i = 0; i < d.batch_rank; ++i) {
    shape[i] = batch_strides[i] == 0 ? 1 : d.batch[i];
    src_strides[i] = batch_strides[i];
  }
  shape[rank - 2] = rows;
  shape[rank - 1] = cols;
  src_strides[rank - 2] = strides[0];
  src_strides[rank - 1] = strides[1];
  int64_t numel = 1;
  for (int i = rank - 1; i >= 0; --i) {
    dst_strides[i] = numel;
    numel *= shape[i];
  }
  std::vector<float> out(static_cast<size_t>(numel));
  copy_strided({out.data(), DType::kF32, dst_strides.data()},
               {const_cast<void*>(data), DType::kBF16, src_strides.data()}, shape.data(), rank);
  for (int i = 0; i < d.batch_rank; ++i) {
    batch_strides[i] = batch_strides[i] == 0 ? 0 : dst_strides[i];
  }
  strides[0] = dst_strides[rank - 2];
  strides[1] = dst_strides[rank - 1];
  return out;
}

}  // namespace

void matmul(OnednnRuntime& runtime, const MatmulDesc& d, const void* a, const void* b, void* c) {
  KILN_CHECK(d.dtype == DType::kF32 || d.dtype == DType::kBF16,
             "matmul: the oneDNN kernel runs f32 or bf16, got ", dtype_name(d.dtype));
  KILN_CHECK(matmul_operand_is_blas_like(d.m, d.k, d.a_strides) &&
                 matmul_operand_is_blas_like(d.k, d.n, d.b_strides),
             "matmul: oneDNN needs unit row or column strides, got ", matmul_desc_str(d));
  const int64_t count = matmul_batch_numel(d) * d.m * d.n;
  if (count == 0) return;
  if (d.k == 0) {
    std::memset(c, 0, static_cast<size_t>(count * dtype_size(d.dtype)));
    return;
  }
  if (d.dtype == DType::kF32 || bf16_native(runtime)) {
    run_f32_or_native(runtime, d, a, b, c);
    return;
  }
  // bf16 without native support: the same product in f32, rounded once.
  MatmulDesc f = d;
  f.dtype = DType::kF32;
  std::vector<float> a32 = operand_to_f32(d, a, d.m, d.k, f.a_batch_strides, f.a_strides);
  std::vector<float> b32 = operand_to_f32(d, b, d.k, d.n, f.b_batch_strides, f.b_strides);
  std::vector<float> c32(static_cast<size_t>(count));
  run_f32_or_native(runtime, f, a32.data(), b32.data(), c32.data());
  f32_to_bf16(c32.data(), static_cast<uint16_t*>(c), count);
}

}  // namespace kiln::kernels::onednn
