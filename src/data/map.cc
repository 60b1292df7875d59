// map(): a transform with a per-example generator keyed by (seed, stream,
// epoch, index).
#include <utility>

#include "kiln/core/error.h"
#include "kiln/data/dataset.h"

namespace kiln::data {
namespace {

class MapDataset final : public Dataset {
 public:
  MapDataset(DatasetPtr inner, Transform fn, uint64_t stream)
      : inner_(std::move(inner)), fn_(std::move(fn)), stream_(stream) {}

  int64_t size() const override { return inner_->size(); }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    Generator gen = example_generator(key, stream_, index);
    return fn_(inner_->get(index, key), gen);
  }

 private:
  DatasetPtr inner_;
  Transform fn_;
  uint64_t stream_;
};

}  // namespace

DatasetPtr map(DatasetPtr dataset, Transform fn, uint64_t stream) {
  KILN_CHECK(dataset != nullptr, "map: null dataset");
  KILN_CHECK(fn != nullptr, "map: empty transform");
  return std::make_shared<MapDataset>(std::move(dataset), std::move(fn), stream);
}

}  // namespace kiln::data
