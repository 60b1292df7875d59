// The Dataset interface, in-memory datasets and the index-only wrappers
// (slice, repeat_each).
#include "kiln/data/dataset.h"

#include <utility>

#include "kiln/core/error.h"
#include "src/data/random_util.h"

namespace kiln::data {

Generator example_generator(const EpochKey& key, uint64_t stream, int64_t index) {
  uint64_t k = detail::derive_key(key.seed, detail::kMapTag);
  k = detail::derive_key(k, stream);
  k = detail::derive_key(k, static_cast<uint64_t>(key.epoch));
  return Generator(detail::derive_key(k, static_cast<uint64_t>(index)));
}

Example Dataset::get(int64_t index, const EpochKey& key) const {
  const int64_t n = size();
  KILN_CHECK(index >= 0 && index < n, "dataset: index ", index, " out of range [0, ", n, ")");
  return get_checked(index, key);
}

namespace {

class TensorDataset final : public Dataset {
 public:
  TensorDataset(TensorMap columns, int64_t rows) : columns_(std::move(columns)), rows_(rows) {}

  int64_t size() const override { return rows_; }

 protected:
  Example get_checked(int64_t index, const EpochKey&) const override {
    Example out;
    for (const auto& [name, column] : columns_) {
      const Shape& shape = column.shape();
      const Strides& strides = column.strides();
      out.set(name, make_view(column, IntList(shape).subspan(1), IntList(strides).subspan(1),
                              column.offset() + index * strides[0]));
    }
    return out;
  }

 private:
  TensorMap columns_;
  int64_t rows_;
};

class SliceDataset final : public Dataset {
 public:
  SliceDataset(DatasetPtr inner, int64_t begin, int64_t end)
      : inner_(std::move(inner)), begin_(begin), end_(end) {}

  int64_t size() const override { return end_ - begin_; }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    return inner_->get(begin_ + index, key);
  }

 private:
  DatasetPtr inner_;
  int64_t begin_;
  int64_t end_;
};

class RepeatEachDataset final : public Dataset {
 public:
  RepeatEachDataset(DatasetPtr inner, int64_t times) : inner_(std::move(inner)), times_(times) {}

  int64_t size() const override { return inner_->size() * times_; }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    return inner_->get(index / times_, key);
  }

 private:
  DatasetPtr inner_;
  int64_t times_;
};

void check_dataset(const DatasetPtr& dataset, const char* op) {
  KILN_CHECK(dataset != nullptr, op, ": null dataset");
}

}  // namespace

DatasetPtr tensor_dataset(TensorMap columns) {
  KILN_CHECK(!columns.empty(), "tensor_dataset: no columns");
  int64_t rows = -1;
  std::string first;
  for (const auto& [name, column] : columns) {
    KILN_CHECK(column.defined(), "tensor_dataset: column '", name, "' is undefined");
    KILN_CHECK(column.dim() >= 1, "tensor_dataset: column '", name,
               "' needs a leading example dim, got shape ", shape_str(column.shape()));
    if (rows < 0) {
      rows = column.size(0);
      first = name;
    }
    KILN_CHECK(column.size(0) == rows, "tensor_dataset: column '", name, "' has shape ",
               shape_str(column.shape()), " but column '", first, "' has ", rows, " rows");
  }
  return std::make_shared<TensorDataset>(std::move(columns), rows);
}

DatasetPtr labeled_images_dataset(const LabeledImages& data) {
  KILN_CHECK(data.images.defined() && data.images.dim() == 4,
             "labeled_images_dataset: images must be (N, H, W, C)");
  KILN_CHECK(data.labels.defined() && data.labels.dim() == 1,
             "labeled_images_dataset: labels must be (N)");
  return tensor_dataset({{kImageKey, data.images}, {kLabelKey, data.labels}});
}

DatasetPtr slice(DatasetPtr dataset, int64_t begin, int64_t end) {
  check_dataset(dataset, "slice");
  const int64_t n = dataset->size();
  KILN_CHECK(0 <= begin && begin <= end && end <= n, "slice: range [", begin, ", ", end,
             ") is not within [0, ", n, "]");
  return std::make_shared<SliceDataset>(std::move(dataset), begin, end);
}

DatasetPtr repeat_each(DatasetPtr dataset, int64_t times) {
  check_dataset(dataset, "repeat_each");
  KILN_CHECK(times >= 1, "repeat_each: times must be >= 1, got ", times);
  return std::make_shared<RepeatEachDataset>(std::move(dataset), times);
}

}  // namespace kiln::data
