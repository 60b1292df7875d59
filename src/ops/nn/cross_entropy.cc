#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"

namespace kiln {
namespace {

// Saves the logits, the targets and each row's log-sum-exp; the backward
// kernel rebuilds softmax(x) = exp(x - lse) from them.
class CrossEntropyOp final : public autograd::Node {
 public:
  std::string_view name() const override { return "cross_entropy"; }
  TensorList backward(const Tensor& dy, const autograd::NeedsGrad& needs) override {
    const Tensor& logits = saved(logits_);
    const Tensor& lse = saved(lse_);
    const Tensor labels = labels_ >= 0 ? saved(labels_) : Tensor();
    const Tensor soft = soft_ >= 0 ? saved(soft_) : Tensor();
    const int64_t rows = logits.size(0);
    // d loss / d loss_row: the upstream gradient per row.
    Tensor diff_loss;
    if (options_.reduction == Reduction::kNone) {
      diff_loss = as_contiguous(dy);
    } else {
      const double scale = options_.reduction == Reduction::kMean ? 1.0 / count_ : 1.0;
      diff_loss = full({rows}, dy.item<double>() * scale, logits.dtype());
    }
    Tensor dlogits, dtargets;
    if (needs[0]) {
      dlogits = Tensor::empty(logits.shape(), logits.dtype());
      ops_internal::dispatch_f32_f64("cross_entropy", logits.dtype(), [&](auto tag) {
        using T = decltype(tag);
        kernels::cross_entropy_backward(desc(logits), logits.data<T>(),
                                        labels.defined() ? labels.data<int64_t>() : nullptr,
                                        soft.defined() ? soft.data<T>() : nullptr, lse.data<T>(),
                                        diff_loss.data<T>(), dlogits.data<T>());
      });
    }
    if (needs.size() > 1 && needs[1]) {
      // Soft targets: d loss_row / d t_c = (1 - s) (lse - x_c).
      dtargets = mul(sub(reshape(lse, {rows, 1}), logits),
                     mul_scalar(reshape(diff_loss, {rows, 1}), 1.0 - options_.label_smoothing));
    }
    return {dlogits, dtargets};
  }

  kernels::CrossEntropyDesc desc(const Tensor& logits) const {
    return {.rows = logits.size(0),
            .classes = logits.size(1),
            .label_smoothing = options_.label_smoothing,
            .ignore_index = options_.ignore_index};
  }

  CrossEntropyOptions options_;
  double count_ = 0;  // rows the mean divides by
  int logits_ = -1, labels_ = -1, soft_ = -1, lse_ = -1;
};

// Integer targets as contiguous i64, checked against [0, C) or ignore_index.
Tensor checked_labels(const Tensor& targets, int64_t classes, int64_t ignore_index,
                      int64_t* counted) {
  Tensor labels = as_contiguous(to_dtype(targets, DType::kI64));
  const int64_t* p = labels.data<int64_t>();
  *counted = 0;
  for (int64_t i = 0; i < labels.numel(); ++i) {
    if (p[i] == ignore_index) continue;
    KILN_CHECK(p[i] >= 0 && p[i] < classes, "cross_entropy: target ", p[i], " at row ", i,
               " is out of range for ", classes, " classes (ignore_index is ", ignore_index, ")");
    ++*counted;
  }
  return labels;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyOptions& options) {
  using namespace ops_internal;
  check_f32_or_f64("cross_entropy", logits);
  check_defined("cross_entropy", targets, "targets");
  KILN_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got ",
             shape_str(logits.shape()));
  const int64_t rows = logits.size(0), classes = logits.size(1);
  KILN_CHECK(classes > 0 || rows == 0, "cross_entropy: logits ", shape_str(logits.shape()),
             " have no classes");
  const double s = options.label_smoothing;
  KILN_CHECK(s >= 0 && s <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ", s);
  const bool hard = targets.dtype() == DType::kI32 || targets.dtype() == DType::kI64;
  Tensor labels, soft;
  int64_t counted = rows;
  if (hard) {
    KILN_CHECK(targets.dim() == 1 && targets.size(0) == rows,
               "cross_entropy: class-index targets must be (N) = ", shape_str({rows}),
               " for logits ", shape_str(logits.shape()), ", got ", shape_str(targets.shape()));
    labels = checked_labels(targets, classes, options.ignore_index, &counted);
  } else {
    KILN_CHECK(targets.dtype() == logits.dtype(), "cross_entropy: targets must be i32/i64 class ",
               "indices or soft targets of the logits' dtype ", dtype_name(logits.dtype()),
               ", got ", dtype_name(targets.dtype()), " ", shape_str(targets.shape()));
    KILN_CHECK(targets.shape() == logits.shape(), "cross_entropy: soft targets must match logits ",
               shape_str(logits.shape()), ", got ", shape_str(targets.shape()));
    soft = as_contiguous(targets);
  }
  const Tensor x = as_contiguous(logits);
  Tensor loss = Tensor::empty({rows}, logits.dtype());
  Tensor lse = Tensor::empty({rows}, logits.dtype());
  const kernels::CrossEntropyDesc desc{
      .rows = rows, .classes = classes, .label_smoothing = s, .ignore_index = options.ignore_index};
  Tensor out;
  dispatch_f32_f64("cross_entropy", logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::cross_entropy_forward(
        desc, x.data<T>(), labels.defined() ? labels.data<int64_t>() : nullptr,
        soft.defined() ? soft.data<T>() : nullptr, loss.data<T>(), lse.data<T>());
    if (options.reduction == Reduction::kNone) {
      out = loss;
      return;
    }
    // Rows summed in fixed blocks: the same bits whatever the thread count.
    out = Tensor::empty({}, logits.dtype());
    kernels::reduce(kernels::ReduceOp::kSum, loss.data<T>(), out.data<T>(), 1, rows, 1);
    // The mean over zero counted rows is 0 / 0 = NaN, as in PyTorch.
    if (options.reduction == Reduction::kMean) {
      *out.data<T>() = static_cast<T>(*out.data<T>() / static_cast<T>(counted));
    }
  });
  record<CrossEntropyOp>(out, {logits, targets}, [&](CrossEntropyOp& node) {
    node.options_ = options;
    node.count_ = static_cast<double>(counted);
    node.logits_ = node.save(x);
    if (labels.defined()) node.labels_ = node.save(labels);
    if (soft.defined()) node.soft_ = node.save(soft);
    node.lse_ = node.save(lse);
  });
  return out;
}

}  // namespace kiln
