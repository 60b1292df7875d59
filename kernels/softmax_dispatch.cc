// Picks the softmax and cross-entropy kernels of the best ISA this CPU runs.
#include "kernels/softmax.h"

namespace kiln::kernels {

void softmax_forward_isa(Isa isa, SoftmaxKind kind, const float* src, float* dst, int64_t rows,
                         int64_t n) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::softmax_forward(kind, src, dst, rows, n);
    case Isa::kAvx2:
      return avx2::softmax_forward(kind, src, dst, rows, n);
    case Isa::kRef:
      break;
  }
  ref::softmax_forward(kind, src, dst, rows, n);
}

void softmax_backward_isa(Isa isa, SoftmaxKind kind, const float* dst, const float* diff_dst,
                          float* diff_src, int64_t rows, int64_t n) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::softmax_backward(kind, dst, diff_dst, diff_src, rows, n);
    case Isa::kAvx2:
      return avx2::softmax_backward(kind, dst, diff_dst, diff_src, rows, n);
    case Isa::kRef:
      break;
  }
  ref::softmax_backward(kind, dst, diff_dst, diff_src, rows, n);
}

void cross_entropy_forward_isa(Isa isa, const CrossEntropyDesc& desc, const float* logits,
                               const int64_t* labels, const float* soft, float* loss, float* lse) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::cross_entropy_forward(desc, logits, labels, soft, loss, lse);
    case Isa::kAvx2:
      return avx2::cross_entropy_forward(desc, logits, labels, soft, loss, lse);
    case Isa::kRef:
      break;
  }
  ref::cross_entropy_forward(desc, logits, labels, soft, loss, lse);
}

void cross_entropy_backward_isa(Isa isa, const CrossEntropyDesc& desc, const float* logits,
                                const int64_t* labels, const float* soft, const float* lse,
                                const float* diff_loss, float* diff_logits) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512::cross_entropy_backward(desc, logits, labels, soft, lse, diff_loss,
                                            diff_logits);
    case Isa::kAvx2:
      return avx2::cross_entropy_backward(desc, logits, labels, soft, lse, diff_loss, diff_logits);
    case Isa::kRef:
      break;
  }
  ref::cross_entropy_backward(desc, logits, labels, soft, lse, diff_loss, diff_logits);
}

void softmax_forward(SoftmaxKind kind, const float* src, float* dst, int64_t rows, int64_t n) {
  softmax_forward_isa(best_isa(), kind, src, dst, rows, n);
}
void softmax_forward(SoftmaxKind kind, const double* src, double* dst, int64_t rows, int64_t n) {
  ref::softmax_forward(kind, src, dst, rows, n);
}
void softmax_backward(SoftmaxKind kind, const float* dst, const float* diff_dst, float* diff_src,
                      int64_t rows, int64_t n) {
  softmax_backward_isa(best_isa(), kind, dst, diff_dst, diff_src, rows, n);
}
void softmax_backward(SoftmaxKind kind, const double* dst, const double* diff_dst, double* diff_src,
                      int64_t rows, int64_t n) {
  ref::softmax_backward(kind, dst, diff_dst, diff_src, rows, n);
}
void cross_entropy_forward(const CrossEntropyDesc& desc, const float* logits, const int64_t* labels,
                           const float* soft, float* loss, float* lse) {
  cross_entropy_forward_isa(best_isa(), desc, logits, labels, soft, loss, lse);
}
void cross_entropy_forward(const CrossEntropyDesc& desc, const double* logits,
                           const int64_t* labels, const double* soft, double* loss, double* lse) {
  ref::cross_entropy_forward(desc, logits, labels, soft, loss, lse);
}
void cross_entropy_backward(const CrossEntropyDesc& desc, const float* logits,
                            const int64_t* labels, const float* soft, const float* lse,
                            const float* diff_loss, float* diff_logits) {
  cross_entropy_backward_isa(best_isa(), desc, logits, labels, soft, lse, diff_loss, diff_logits);
}
void cross_entropy_backward(const CrossEntropyDesc& desc, const double* logits,
                            const int64_t* labels, const double* soft, const double* lse,
                            const double* diff_loss, double* diff_logits) {
  ref::cross_entropy_backward(desc, logits, labels, soft, lse, diff_loss, diff_logits);
}

}  // namespace kiln::kernels
