#include "kiln/tensor/tensor.h"

#include <cmath>
#include <ostream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "kernels/copy.h"
#include "kiln/autograd/engine.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/context.h"

namespace kiln {
namespace {

std::shared_ptr<Storage> allocate_storage(int64_t nbytes) {
  std::shared_ptr<Allocator> allocator = Context::current().allocator_ptr();
  const int64_t size = std::max<int64_t>(nbytes, 1);
  void* data = allocator->allocate(size);
  return std::make_shared<Storage>(data, size,
                                   [allocator, size](void* p) { allocator->deallocate(p, size); });
}

kernels::StridedOperand operand(const Tensor& t) {
  return {t.raw_data(), t.dtype(), t.strides().data()};
}

}  // namespace

Tensor Tensor::empty(IntList shape, DType dtype) {
  for (int64_t s : shape) KILN_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = allocate_storage(shape_numel(shape) * dtype_size(dtype));
  impl->shape = Shape(shape.begin(), shape.end());
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, IntList shape, IntList strides,
                       int64_t offset, DType dtype) {
  KILN_CHECK(shape.size() == strides.size(), "view_of: shape ", shape_str(shape), " and strides ",
             shape_str(strides), " differ in rank");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = Shape(shape.begin(), shape.end());
  impl->strides = Strides(strides.begin(), strides.end());
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

bool Tensor::is_contiguous() const {
  const TensorImpl& t = impl();
  int64_t expected = 1;
  for (int64_t i = static_cast<int64_t>(t.shape.size()) - 1; i >= 0; --i) {
    if (t.shape[i] == 1) continue;
    if (t.strides[i] != expected) return false;
    expected *= std::max<int64_t>(t.shape[i], 1);  // as contiguous_strides
  }
  return true;
}

double Tensor::item_as_double() const {
  KILN_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape()), " has ", numel(),
             " elements, not 1");
  return to_vector(*this)[0];
}

Tensor Tensor::detach() const {
  const TensorImpl& t = impl();
  return view_of(t.storage, t.shape, t.strides, t.offset, t.dtype);
}

bool Tensor::requires_grad() const {
  const TensorImpl& t = impl();
  return t.autograd != nullptr && t.autograd->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  KILN_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can be marked; detach() first");
  KILN_CHECK(!requires_grad || is_floating(dtype()),
             "set_requires_grad: gradients need a floating dtype, tensor is ", dtype_name(dtype()));
  impl().autograd_meta().requires_grad = requires_grad;
  return *this;
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> kNone;
  const TensorImpl& t = impl();
  return t.autograd ? t.autograd->grad_fn : kNone;
}

Tensor Tensor::grad() const {
  const TensorImpl& t = impl();
  if (!t.autograd || !t.autograd->grad) return Tensor();
  return *t.autograd->grad;
}

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined()) {
    KILN_CHECK(grad.shape() == shape(), "set_grad: gradient of shape ", shape_str(grad.shape()),
               " for a tensor of shape ", shape_str(shape()));
  }
  impl().autograd_meta().grad = grad.defined() ? std::make_shared<Tensor>(grad) : nullptr;
}

void Tensor::zero_grad() {
  if (impl().autograd) impl().autograd->grad.reset();
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  autograd::run_backward(*this, grad, retain_graph);
}

std::string Tensor::to_string() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

Tensor zeros(IntList shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(IntList shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor full(IntList shape, double value, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  kernels::fill(t.raw_data(), dtype, t.numel(), value);
  return t;
}

Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(int64_t n, DType dtype) {
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<double>(i);
  return from_vector(values, {n}, dtype);
}

Tensor from_vector(const std::vector<double>& values, IntList shape, DType dtype) {
  KILN_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
             "from_vector: ", values.size(), " values for shape ", shape_str(shape));
  Tensor src = Tensor::view_of(
      std::make_shared<Storage>(const_cast<double*>(values.data()),
                                static_cast<int64_t>(values.size() * sizeof(double)), nullptr),
      shape, contiguous_strides(shape), 0, DType::kF64);
  Tensor t = Tensor::empty(shape, dtype);
  copy_into(t, src);
  return t;
}

Tensor from_vector(const std::vector<float>& values, IntList shape) {
  return from_vector(std::vector<double>(values.begin(), values.end()), shape, DType::kF32);
}

Tensor from_vector(const std::vector<int64_t>& values, IntList shape) {
  std::vector<double> as_double(values.begin(), values.end());
  return from_vector(as_double, shape, DType::kI64);
}

std::vector<double> to_vector(const Tensor& t) {
  std::vector<double> values(static_cast<size_t>(t.numel()));
  Tensor dst = Tensor::view_of(
      std::make_shared<Storage>(values.data(), static_cast<int64_t>(values.size() * 8), nullptr),
      t.shape(), contiguous_strides(t.shape()), 0, DType::kF64);
  copy_into(dst, t);
  return values;
}

std::vector<float> to_float_vector(const Tensor& t) {
  std::vector<double> values = to_vector(t);
  return std::vector<float>(values.begin(), values.end());
}

Tensor as_contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  copy_into(out, t);
  return out;
}

void copy_into(const Tensor& dst, const Tensor& src) {
  KILN_CHECK(dst.shape() == src.shape(), "copy: destination shape ", shape_str(dst.shape()),
             " differs from source shape ", shape_str(src.shape()));
  kernels::copy_strided(operand(dst), operand(src), dst.shape().data(),
                        static_cast<int>(dst.dim()));
}

Tensor make_view(const Tensor& base, IntList shape, IntList strides, int64_t offset) {
  return Tensor::view_of(base.storage(), shape, strides, offset, base.dtype());
}

namespace {

void print_elements(std::ostream& os, const std::vector<double>& values, const Tensor& t,
                    int64_t dim, int64_t offset, int64_t indent) {
  const int64_t rank = t.dim();
  if (rank == 0) {
    os << absl::StrFormat("%.6g", values[0]);
    return;
  }
  const int64_t n = t.shape()[dim];
  int64_t stride = 1;
  for (int64_t i = dim + 1; i < rank; ++i) stride *= t.shape()[i];
  constexpr int64_t kEdge = 3;  // elements shown at each end of a long dim
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge && i == kEdge) {
      os << (dim + 1 == rank ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - kEdge - 1;
      continue;
    }
    if (dim + 1 == rank) {
      os << absl::StrFormat("%.6g", values[offset + i]);
    } else {
      print_elements(os, values, t, dim + 1, offset + i * stride, indent + 1);
    }
    if (i + 1 < n) os << (dim + 1 == rank ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(";
  print_elements(os, to_vector(t), t, 0, 0, 7);
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype());
  if (t.requires_grad()) os << ", requires_grad";
  return os << ")";
}

}  // namespace kiln
