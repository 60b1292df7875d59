// Binary ops with NumPy broadcasting. Both operands must have the same dtype
// (casts are explicit, see cast.h); the gradient of a broadcast operand is
// reduced back to its shape by the autograd engine.
#pragma once

#include "kiln/ops/unary.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// cond ? a : b elementwise; cond is bool; all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Comparisons and logic give bool tensors and no gradient.
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };
Tensor compare(const Tensor& a, const Tensor& b, CompareOp op);
Tensor compare(const Tensor& a, double b, CompareOp op);
inline Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, CompareOp::kEq); }
inline Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, CompareOp::kNe); }
inline Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, CompareOp::kLt); }
inline Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, CompareOp::kLe); }
inline Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, CompareOp::kGt); }
inline Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, CompareOp::kGe); }
enum class LogicalOp { kAnd, kOr, kXor, kNot };
// kNot ignores b (pass an undefined tensor).
Tensor logical(const Tensor& a, const Tensor& b, LogicalOp op);
inline Tensor logical_not(const Tensor& a) { return logical(a, Tensor(), LogicalOp::kNot); }

// Scalar forms.
inline Tensor sub(const Tensor& a, double b) { return add_scalar(a, -b); }
inline Tensor div(const Tensor& a, double b) { return mul_scalar(a, 1.0 / b); }
// s - x and s / x.
inline Tensor rsub(double s, const Tensor& x) { return add_scalar(neg(x), s); }
inline Tensor rdiv(double s, const Tensor& x) { return mul_scalar(pow(x, -1.0), s); }

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double b) { return add_scalar(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add_scalar(b, a); }
inline Tensor operator-(const Tensor& a, double b) { return add_scalar(a, -b); }
inline Tensor operator-(double a, const Tensor& b) { return rsub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul_scalar(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return mul_scalar(b, a); }
inline Tensor operator/(const Tensor& a, double b) { return mul_scalar(a, 1.0 / b); }
inline Tensor operator/(double a, const Tensor& b) { return rdiv(a, b); }

}  // namespace kiln
