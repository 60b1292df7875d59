// Datasets: a random-access interface plus composable wrappers (map,
// shuffle, batch, ...). Every random choice a wrapper makes is a pure
// function of (seed, epoch, index): the seed is the loader's, handed down
// with the epoch in an EpochKey, so any example or batch can be rebuilt from
// its position alone, whatever the number of threads or the order of calls.
//
// Example tensors by convention: "image" (H, W, C) f32, "label" () i64,
// "tokens" (T) i64. A Batch holds the same names stacked: (B, H, W, C), (B).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

inline constexpr char kImageKey[] = "image";
inline constexpr char kLabelKey[] = "label";
inline constexpr char kTokensKey[] = "tokens";

// Named tensors, ordered by name.
class TensorMap {
 public:
  using Map = std::map<std::string, Tensor, std::less<>>;

  TensorMap() = default;
  TensorMap(std::initializer_list<Map::value_type> entries) : tensors_(entries) {}

  // Inserts or replaces.
  void set(std::string name, Tensor tensor);
  bool contains(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }
  // Throws kiln::Error naming `name` and the names present when it is missing.
  const Tensor& at(std::string_view name) const;
  Tensor& at(std::string_view name);
  void erase(std::string_view name);
  std::vector<std::string> names() const;
  int64_t size() const { return static_cast<int64_t>(tensors_.size()); }
  bool empty() const { return tensors_.empty(); }
  Map::const_iterator begin() const { return tensors_.begin(); }
  Map::const_iterator end() const { return tensors_.end(); }

 private:
  Map tensors_;
};

using Example = TensorMap;
// Examples stacked along a new leading dim B.
using Batch = TensorMap;

// Which pass over the data an example is drawn for: random wrappers derive
// their randomness from (seed, epoch, index) and nothing else.
struct EpochKey {
  uint64_t seed = 0;
  int64_t epoch = 0;
};

// The generator a random wrapper uses for example `index` of `key.epoch`;
// `stream` separates wrappers (and wrapper types) sharing the loader's seed.
// Independent of any other call, so results do not depend on thread count.
Generator example_generator(const EpochKey& key, uint64_t stream, int64_t index);

// A random-access dataset. get() must be safe to call from several threads
// at once and must return the same example for the same (index, key).
class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  // Example `index` in [0, size()) as drawn in `key.epoch`; throws
  // kiln::Error for an index out of range. The returned tensors may share
  // storage with the dataset: transforms must build new tensors rather than
  // write into them.
  Example get(int64_t index, const EpochKey& key = {}) const;

 protected:
  // Called with an index already checked against size().
  virtual Example get_checked(int64_t index, const EpochKey& key) const = 0;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// Example i is row i of every column: {"image": (N, H, W, C), "label": (N)}
// gives examples {"image": (H, W, C), "label": ()}. Rows are views, not
// copies. Columns must all have the same dim-0 size and rank >= 1.
DatasetPtr tensor_dataset(TensorMap columns);

// Labelled images as the readers return them.
struct LabeledImages {
  Tensor images;  // (N, H, W, C) f32
  Tensor labels;  // (N) i64 in [0, num_classes)
  int64_t num_classes = 0;
};
// Examples {"image": (H, W, C), "label": ()}.
DatasetPtr labeled_images_dataset(const LabeledImages& data);

// A function of an example and a generator keyed by (seed, epoch, index).
// It must draw all its randomness from `gen` and must not modify the input
// tensors in place.
using Transform = std::function<Example(Example example, Generator& gen)>;

// Applies `fn` to every example. `stream` tells apart several maps under the
// same loader seed.
DatasetPtr map(DatasetPtr dataset, Transform fn, uint64_t stream = 0);

// Reorders the examples by a permutation drawn per epoch: the permutation of
// epoch e depends only on (key.seed, stream, e).
DatasetPtr shuffle(DatasetPtr dataset, uint64_t stream = 0);
// The permutation shuffle() uses: element i is the source index of position i.
std::vector<int64_t> epoch_permutation(int64_t n, const EpochKey& key, uint64_t stream);

// Examples [begin, end) of `dataset`.
DatasetPtr slice(DatasetPtr dataset, int64_t begin, int64_t end);

// Every example `times` times in a row: index i is source example i / times.
// Wrappers after it see distinct indices, so a map after it draws
// differently for each copy.
DatasetPtr repeat_each(DatasetPtr dataset, int64_t times);

// Groups consecutive examples into batches of `batch_size`, stacking each
// name along a new dim 0. The last, smaller batch is kept unless
// `drop_last`. Examples of a batch must have the same names, shapes and
// dtypes (kiln::Error otherwise).
DatasetPtr batch(DatasetPtr dataset, int64_t batch_size, bool drop_last = false);

// Stacks examples along a new dim 0 (the work of batch()).
Batch stack_examples(const std::vector<Example>& examples);

}  // namespace kiln::data
