// Tensor: a cheap handle to shared storage plus view metadata (shape,
// strides, offset, dtype) plus autograd metadata that stays null unless
// gradients are involved. Copying a Tensor shares data; clone() (an op) and
// detach() are explicit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/core/error.h"
#include "kiln/tensor/dtype.h"
#include "kiln/tensor/shape.h"
#include "kiln/tensor/storage.h"

namespace kiln {

namespace autograd {
class Node;
}

class Tensor;

struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Tensor> grad;               // accumulated gradient of a leaf
  std::shared_ptr<autograd::Node> grad_fn;    // the node that produced this tensor
  std::weak_ptr<autograd::Node> accumulator;  // cached AccumulateGrad node of a leaf
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::kF32;
  std::unique_ptr<AutogradMeta> autograd;

  AutogradMeta& autograd_meta() {
    if (!autograd) autograd = std::make_unique<AutogradMeta>();
    return *autograd;
  }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised contiguous tensor.
  static Tensor empty(IntList shape, DType dtype = DType::kF32);
  // A view of `storage` (no copy).
  static Tensor view_of(std::shared_ptr<Storage> storage, IntList shape, IntList strides,
                        int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  // Size of dim `d`; negative d counts from the end.
  int64_t size(int64_t d) const { return impl().shape[wrap_dim(d, dim(), "size")]; }
  int64_t numel() const { return shape_numel(impl().shape); }
  int64_t nbytes() const { return numel() * dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  // True when both tensors view the same storage.
  bool shares_storage(const Tensor& other) const { return storage() == other.storage(); }

  // Pointer to the first element of the view; checks the dtype.
  template <class T>
  T* data() const {
    KILN_CHECK(DTypeOf<T>::value == dtype(), "data: tensor has dtype ", dtype_name(dtype()),
               ", asked for ", dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const {
    return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
  }
  // The single element of a one-element tensor, converted to T.
  template <class T>
  T item() const {
    return static_cast<T>(item_as_double());
  }
  double item_as_double() const;

  // Same data, no autograd history, requires_grad false.
  Tensor detach() const;

  // Autograd.
  bool requires_grad() const;
  // Marks a leaf as requiring gradients; throws on non-leaves and non-floating dtypes.
  Tensor& set_requires_grad(bool requires_grad = true);
  bool is_leaf() const { return !grad_fn(); }
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  void zero_grad();
  // Backpropagates from this tensor: `grad` may be omitted for one-element tensors.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  std::string to_string() const;
  TensorImpl& impl() const {
    KILN_CHECK(impl_ != nullptr, "tensor: use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

using TensorList = std::vector<Tensor>;

// Factories (contiguous, not requiring grad).
Tensor zeros(IntList shape, DType dtype = DType::kF32);
Tensor ones(IntList shape, DType dtype = DType::kF32);
Tensor full(IntList shape, double value, DType dtype = DType::kF32);
Tensor scalar_tensor(double value, DType dtype = DType::kF32);
// 0, 1, ..., n-1.
Tensor arange(int64_t n, DType dtype = DType::kI64);
// Copies `values` (converted to dtype) into a new tensor of `shape`.
Tensor from_vector(const std::vector<double>& values, IntList shape, DType dtype = DType::kF32);
Tensor from_vector(const std::vector<float>& values, IntList shape);
Tensor from_vector(const std::vector<int64_t>& values, IntList shape);
// All elements converted to double, in row-major order of the view.
std::vector<double> to_vector(const Tensor& t);
std::vector<float> to_float_vector(const Tensor& t);

// Returns `t` itself when contiguous, else a contiguous copy. Records no
// autograd history: use the contiguous() op on tensors in a graph.
Tensor as_contiguous(const Tensor& t);
// Copies src into dst elementwise (same shape, any strides, any dtypes).
void copy_into(const Tensor& dst, const Tensor& src);
// Same data viewed with new metadata (no autograd).
Tensor make_view(const Tensor& base, IntList shape, IntList strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace kiln
