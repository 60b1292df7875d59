// DataLoader: workers claim steps in order while fewer than `prefetch` are
// ahead of the consumer, and hand results back in a map keyed by step, so
// batches come out in order whatever the number of workers. A restart
// (set_position, or an error) bumps a generation number; results of older
// generations are dropped.
#include "kiln/data/loader.h"

#include <limits>
#include <utility>

#include "kiln/core/context.h"
#include "kiln/core/error.h"

namespace kiln::data {

DataLoader::DataLoader(DatasetPtr batches, DataLoaderOptions options, LoaderPosition start)
    : batches_(std::move(batches)), options_(options) {
  KILN_CHECK(batches_ != nullptr, "data loader: null dataset");
  KILN_CHECK(options_.prefetch >= 0, "data loader: prefetch must be >= 0, got ", options_.prefetch);
  KILN_CHECK(options_.prefetch == 0 || options_.num_workers >= 1,
             "data loader: num_workers must be >= 1 with prefetch, got ", options_.num_workers);
  batches_per_epoch_ = batches_->size();
  KILN_CHECK(batches_per_epoch_ > 0, "data loader: the dataset has no batches");
  context_ = &Context::current();
  set_position(start);
  if (options_.prefetch == 0) return;
  try {
    for (int i = 0; i < options_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    throw;
  }
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

Batch DataLoader::load(int64_t step) const {
  const EpochKey key{options_.seed, step / batches_per_epoch_};
  return batches_->get(step % batches_per_epoch_, key);
}

void DataLoader::worker_loop() {
  ContextScope scope(*context_);
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] { return stop_ || claim_step_ < next_step_ + options_.prefetch; });
    if (stop_) return;
    const int64_t step = claim_step_++;
    const uint64_t generation = generation_;
    lock.unlock();
    Result result;
    try {
      result = load(step);
    } catch (...) {
      result = std::current_exception();
    }
    lock.lock();
    if (generation == generation_) {
      ready_.emplace(step, std::move(result));
      ready_cv_.notify_all();
    }
  }
}

void DataLoader::restart_locked(int64_t step) {
  ++generation_;
  ready_.clear();
  next_step_ = step;
  claim_step_ = step;
}

Batch DataLoader::next() {
  if (options_.prefetch == 0) {
    int64_t step;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      step = next_step_;
    }
    Batch batch = load(step);  // on error the position stays put
    std::lock_guard<std::mutex> lock(mutex_);
    next_step_ = step + 1;
    return batch;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t step = next_step_;
  ready_cv_.wait(lock, [&] { return ready_.count(step) > 0; });
  auto it = ready_.find(step);
  Result result = std::move(it->second);
  ready_.erase(it);
  if (auto* error = std::get_if<std::exception_ptr>(&result)) {
    // Batches after the failed one are dropped too, so that a retry loads
    // them again in order.
    restart_locked(step);
    lock.unlock();
    work_cv_.notify_all();
    std::rethrow_exception(*error);
  }
  ++next_step_;
  lock.unlock();
  work_cv_.notify_all();
  return std::get<Batch>(std::move(result));
}

LoaderPosition DataLoader::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {next_step_ / batches_per_epoch_, next_step_ % batches_per_epoch_};
}

void DataLoader::set_position(LoaderPosition position) {
  KILN_CHECK(position.epoch >= 0 &&
                 position.epoch < std::numeric_limits<int64_t>::max() / batches_per_epoch_ &&
                 position.batch >= 0 && position.batch < batches_per_epoch_,
             "data loader: position (epoch ", position.epoch, ", batch ", position.batch,
             ") is invalid with ", batches_per_epoch_, " batches per epoch");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    restart_locked(position.epoch * batches_per_epoch_ + position.batch);
  }
  work_cv_.notify_all();
}

}  // namespace kiln::data
