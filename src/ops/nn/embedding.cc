#include <cstring>
#include <vector>

#include "kernels/parallel.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// Scatter-add of the output gradient rows into a (V, D) table gradient.
// Positions are grouped by id with a stable counting sort, then each table
// row is owned by one thread and sums its positions in increasing order:
// no races, and the same bits whatever the thread count.
template <class T>
void scatter_add_rows(const int64_t* ids, int64_t count, const T* dy, T* dtable, int64_t vocab,
                      int64_t d) {
  std::vector<int64_t> start(static_cast<size_t>(vocab + 1), 0);
  for (int64_t i = 0; i < count; ++i) ++start[ids[i] + 1];
  for (int64_t v = 0; v < vocab; ++v) start[v + 1] += start[v];
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  std::vector<int64_t> positions(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) positions[fill[ids[i]]++] = i;
  const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / std::max<int64_t>(d, 1));
  kernels::parallel_for(vocab, grain, [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      T* row = dtable + v * d;
      std::fill(row, row + d, T(0));
      for (int64_t k = start[v]; k < start[v + 1]; ++k) {
        const T* src = dy + positions[k] * d;
        for (int64_t j = 0; j < d; ++j) row[j] += src[j];
      }
    }
  });
}

class EmbeddingOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "embedding"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad&) override {
    const Tensor& ids = saved(ids_);
    const Tensor g = as_contiguous(dy);
    Tensor dtable = Tensor::empty({vocab_, dim_}, g.dtype());
    ops_internal::dispatch_f32_f64("embedding", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      scatter_add_rows(ids.data<int64_t>(), ids.numel(), g.data<T>(), dtable.data<T>(), vocab_,
                       dim_);
    });
    return {dtable, Tensor()};
  }
  int64_t vocab_ = 0, dim_ = 0;
  int ids_ = -1;
};

}  // namespace

Tensor embedding(const Tensor& table, const Tensor& ids) {
  using namespace ops_internal;
  check_f32_or_f64("embedding", table);
  check_defined("embedding", ids, "ids");
  KILN_CHECK(table.dim() == 2, "embedding: table must be (V, D), got ", shape_str(table.shape()));
  KILN_CHECK(ids.dtype() == DType::kI32 || ids.dtype() == DType::kI64,
             "embedding: ids must be i32 or i64, got ", dtype_name(ids.dtype()), " ",
             shape_str(ids.shape()));
  const int64_t vocab = table.size(0), d = table.size(1);
  const Tensor index = as_contiguous(to_dtype(ids, DType::kI64));
  const int64_t* p = index.data<int64_t>();
  for (int64_t i = 0; i < index.numel(); ++i) {
    KILN_CHECK(p[i] >= 0 && p[i] < vocab, "embedding: id ", p[i], " at position ", i,
               " is out of range for a table of V = ", vocab, " rows ", shape_str(table.shape()));
  }
  Shape shape = ids.shape();
  shape.push_back(d);
  const Tensor src = as_contiguous(table);
  Tensor y = Tensor::empty(shape, table.dtype());
  const int64_t row_bytes = d * dtype_size(table.dtype());
  const char* from = static_cast<const char*>(src.raw_data());
  char* to = static_cast<char*>(y.raw_data());
  kernels::parallel_for(
      index.numel(), std::max<int64_t>(1, kernels::kElementwiseGrain / std::max<int64_t>(d, 1)),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          std::memcpy(to + i * row_bytes, from + p[i] * row_bytes, static_cast<size_t>(row_bytes));
        }
      });
  record<EmbeddingOp>(y, {table, ids}, [&](EmbeddingOp& node) {
    node.vocab_ = vocab;
    node.dim_ = d;
    node.ids_ = node.save(index);
  });
  return y;
}

}  // namespace kiln
