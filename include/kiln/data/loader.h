// DataLoader: iterates the batches of a dataset epoch after epoch, loading
// ahead on background threads. It owns the seed handed to every wrapper and
// a position (epoch, batch) that checkpoints save and resume restores: the
// batches after set_position(p) are exactly those an uninterrupted run
// yields after reaching p, with or without prefetching, with any number of
// workers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "kiln/data/dataset.h"

namespace kiln {
class Context;
}

namespace kiln::data {

// The next batch the loader returns: batch `batch` of epoch `epoch`.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;

  bool operator==(const LoaderPosition&) const = default;
};

struct DataLoaderOptions {
  uint64_t seed = 0;
  // Batches loaded ahead of the consumer (a bounded queue). 0 loads each
  // batch on the calling thread inside next().
  int64_t prefetch = 2;
  // Background threads loading batches when prefetch > 0; batches still come
  // out in order.
  int num_workers = 1;
};

class DataLoader {
 public:
  // `batches` is a dataset whose examples are batches, usually from batch().
  // Workers run with the kiln::Context current on the constructing thread,
  // which must outlive the loader. next() and set_position() are meant for
  // one consumer thread.
  explicit DataLoader(DatasetPtr batches, DataLoaderOptions options = {},
                      LoaderPosition start = {});
  // Stops and joins the workers; batches in flight are dropped.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The batch at position(), then advances (into the next epoch after the
  // last batch). An exception thrown while loading that batch (in a worker or
  // not) is rethrown here; the position then stays put, so calling next()
  // again retries the same batch.
  Batch next();

  LoaderPosition position() const;
  // Moves to `position` (batch in [0, batches_per_epoch())), dropping
  // batches loaded ahead.
  void set_position(LoaderPosition position);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  uint64_t seed() const { return options_.seed; }
  const DataLoaderOptions& options() const { return options_; }

 private:
  using Result = std::variant<Batch, std::exception_ptr>;

  // Loads batch number `step` counted from (epoch 0, batch 0).
  Batch load(int64_t step) const;
  void worker_loop();
  // Resets the queue to start at `step`; the caller holds mutex_.
  void restart_locked(int64_t step);

  DatasetPtr batches_;
  DataLoaderOptions options_;
  int64_t batches_per_epoch_ = 0;
  Context* context_ = nullptr;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // workers wait for room or stop
  std::condition_variable ready_cv_;  // the consumer waits for its batch
  int64_t next_step_ = 0;             // the step next() returns
  int64_t claim_step_ = 0;            // the next step a worker loads
  uint64_t generation_ = 0;           // bumped by restarts; stale results are dropped
  std::map<int64_t, Result> ready_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace kiln::data
