// shuffle(): a Fisher-Yates permutation per epoch from a Philox stream keyed
// by (seed, stream, epoch), cached for the epochs in use.
#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <numeric>
#include <utility>

#include "kiln/core/error.h"
#include "kiln/data/dataset.h"
#include "src/data/random_util.h"

namespace kiln::data {

std::vector<int64_t> epoch_permutation(int64_t n, const EpochKey& key, uint64_t stream) {
  KILN_CHECK(n >= 0, "epoch_permutation: negative size ", n);
  uint64_t k = detail::derive_key(key.seed, detail::kShuffleTag);
  k = detail::derive_key(k, stream);
  k = detail::derive_key(k, static_cast<uint64_t>(key.epoch));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  // Step i swaps position i with one uniform in [0, i], from its own block.
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t j = detail::uniform_below(detail::derive_key(k, static_cast<uint64_t>(i)),
                                             static_cast<uint64_t>(i) + 1);
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

namespace {

class ShuffleDataset final : public Dataset {
 public:
  ShuffleDataset(DatasetPtr inner, uint64_t stream) : inner_(std::move(inner)), stream_(stream) {}

  int64_t size() const override { return inner_->size(); }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    return inner_->get((*permutation(key))[index], key);
  }

 private:
  struct Entry {
    EpochKey key;
    std::shared_ptr<const std::vector<int64_t>> perm;
  };
  // Two epochs are kept: loader workers may run ahead into the next epoch
  // while others finish the current one.
  static constexpr size_t kCached = 2;

  std::shared_ptr<const std::vector<int64_t>> permutation(const EpochKey& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : cache_) {
      if (e.key.seed == key.seed && e.key.epoch == key.epoch) return e.perm;
    }
    // Built under the lock so concurrent callers of a new epoch wait for one
    // computation instead of each making their own.
    auto perm = std::make_shared<const std::vector<int64_t>>(
        epoch_permutation(inner_->size(), key, stream_));
    cache_.push_front({key, perm});
    if (cache_.size() > kCached) cache_.pop_back();
    return perm;
  }

  DatasetPtr inner_;
  uint64_t stream_;
  mutable std::mutex mutex_;
  mutable std::deque<Entry> cache_;
};

}  // namespace

DatasetPtr shuffle(DatasetPtr dataset, uint64_t stream) {
  KILN_CHECK(dataset != nullptr, "shuffle: null dataset");
  return std::make_shared<ShuffleDataset>(std::move(dataset), stream);
}

}  // namespace kiln::data
