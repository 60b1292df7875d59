#include <cstring>

#include "kernels/copy.h"
#include "kiln/ops/shape.h"
#include "src/ops/op_util.h"
#include "src/ops/shape/index_util.h"

namespace kiln {

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  ops_internal::check_defined("one_hot", index, "index");
  KILN_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  const std::vector<int64_t> ids = ops_internal::index_values("one_hot", index);
  for (int64_t id : ids) {
    KILN_CHECK(id >= 0 && id < num_classes, "one_hot: index ", id, " is out of range for ",
               num_classes, " classes (index shape ", shape_str(index.shape()), ")");
  }
  Shape shape = index.shape();
  shape.push_back(num_classes);
  Tensor y = zeros(shape, dtype);
  // The bytes of a 1 in `dtype`, stamped at each hot position.
  uint64_t one = 0;
  kernels::fill(&one, dtype, 1, 1.0);
  const int64_t width = dtype_size(dtype);
  char* out = static_cast<char*>(y.raw_data());
  for (size_t j = 0; j < ids.size(); ++j) {
    const int64_t at = static_cast<int64_t>(j) * num_classes + ids[j];
    std::memcpy(out + at * width, &one, static_cast<size_t>(width));
  }
  return y;
}

}  // namespace kiln
