// batch() and stack_examples(): consecutive examples stacked along a new
// dim 0, (B, ...) per name.
#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_join.h"
#include "kiln/core/error.h"
#include "kiln/data/dataset.h"

namespace kiln::data {

Batch stack_examples(const std::vector<Example>& examples) {
  KILN_CHECK(!examples.empty(), "batch: no examples to stack");
  const Example& first = examples.front();
  const int64_t count = static_cast<int64_t>(examples.size());
  for (int64_t k = 1; k < count; ++k) {
    KILN_CHECK(examples[k].names() == first.names(), "batch: example ", k, " has tensors (",
               absl::StrJoin(examples[k].names(), ", "), ") but example 0 has (",
               absl::StrJoin(first.names(), ", "), ")");
  }
  Batch out;
  for (const auto& [name, proto] : first) {
    Shape shape{count};
    shape.insert(shape.end(), proto.shape().begin(), proto.shape().end());
    Tensor stacked = Tensor::empty(shape, proto.dtype());
    const int64_t row_bytes = proto.nbytes();
    auto* dst = static_cast<char*>(stacked.raw_data());
    for (int64_t k = 0; k < count; ++k) {
      const Tensor& t = examples[k].at(name);
      KILN_CHECK(t.shape() == proto.shape() && t.dtype() == proto.dtype(), "batch: example ", k,
                 " has '", name, "' of shape ", shape_str(t.shape()), " ", dtype_name(t.dtype()),
                 " but example 0 has ", shape_str(proto.shape()), " ", dtype_name(proto.dtype()));
      if (t.is_contiguous()) {
        if (row_bytes > 0) std::memcpy(dst + k * row_bytes, t.raw_data(), row_bytes);
      } else {
        copy_into(
            make_view(stacked, proto.shape(), contiguous_strides(proto.shape()), k * proto.numel()),
            t);
      }
    }
    out.set(name, std::move(stacked));
  }
  return out;
}

namespace {

class BatchDataset final : public Dataset {
 public:
  BatchDataset(DatasetPtr inner, int64_t batch_size, bool drop_last)
      : inner_(std::move(inner)), batch_size_(batch_size), drop_last_(drop_last) {}

  int64_t size() const override {
    const int64_t n = inner_->size();
    return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
  }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    const int64_t begin = index * batch_size_;
    const int64_t end = std::min(begin + batch_size_, inner_->size());
    std::vector<Example> examples;
    examples.reserve(static_cast<size_t>(end - begin));
    for (int64_t i = begin; i < end; ++i) examples.push_back(inner_->get(i, key));
    return stack_examples(examples);
  }

 private:
  DatasetPtr inner_;
  int64_t batch_size_;
  bool drop_last_;
};

}  // namespace

DatasetPtr batch(DatasetPtr dataset, int64_t batch_size, bool drop_last) {
  KILN_CHECK(dataset != nullptr, "batch: null dataset");
  KILN_CHECK(batch_size >= 1, "batch: batch_size must be >= 1, got ", batch_size);
  return std::make_shared<BatchDataset>(std::move(dataset), batch_size, drop_last);
}

}  // namespace kiln::data
