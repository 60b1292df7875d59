#include "kiln/core/context.h"

#include <omp.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "kernels/onednn/runtime.h"
#include "kiln/core/error.h"
#include "kiln/tensor/storage.h"

namespace kiln {
namespace {

thread_local Context* t_current = nullptr;

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Keeps freed blocks of 64 KiB and up for reuse: training repeats the same
// allocation sizes every step, and returning big blocks to the OS costs a
// page fault per 4 KiB on the next step.
class CachingAllocator final : public Allocator {
 public:
  ~CachingAllocator() override {
    for (auto& [size, block] : free_) std::free(block);
  }

  void* allocate(int64_t nbytes) override {
    const int64_t size = bucket(nbytes);
    if (size >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        void* block = it->second;
        free_.erase(it);
        return block;
      }
    }
    void* block = std::aligned_alloc(kStorageAlignment, static_cast<size_t>(size));
    if (block == nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      release_cached_locked();
      block = std::aligned_alloc(kStorageAlignment, static_cast<size_t>(size));
    }
    if (block == nullptr) throw std::bad_alloc();
    return block;
  }

  void deallocate(void* data, int64_t nbytes) override {
    const int64_t size = bucket(nbytes);
    if (size < kCacheMin) {
      std::free(data);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(size, data);
  }

 private:
  static constexpr int64_t kCacheMin = 64 * 1024;

  // Sizes round up to a quarter of their power of two, so a block serves
  // requests up to 25% smaller than it.
  static int64_t bucket(int64_t nbytes) {
    const int64_t n = std::max<int64_t>(round_up(nbytes, kStorageAlignment), kStorageAlignment);
    if (n < kCacheMin) return n;
    int64_t power = 1;
    while (power * 2 <= n) power *= 2;
    return round_up(n, power / 4);
  }

  void release_cached_locked() {
    for (auto& [size, block] : free_) std::free(block);
    free_.clear();
  }

  std::mutex mutex_;
  std::multimap<int64_t, void*> free_;
};

}  // namespace

Context::Context(ContextOptions options)
    : generator_(options.seed),
      allocator_(std::make_shared<CachingAllocator>()),
      onednn_(std::make_unique<kernels::OnednnRuntime>()) {
  set_num_threads(options.num_threads);
}

Context::~Context() = default;

Context& Context::current() {
  if (t_current != nullptr) return *t_current;
  static Context* default_context = new Context();  // never destroyed: outlives all tensors
  return *default_context;
}

void Context::set_num_threads(int num_threads) {
  KILN_CHECK(num_threads >= 0, "Context: num_threads must be >= 0, got ", num_threads);
  num_threads_ = num_threads == 0 ? omp_get_num_procs() : num_threads;
  omp_set_num_threads(num_threads_);
}

kernels::OnednnRuntime& Context::onednn() { return *onednn_; }

ContextScope::ContextScope(Context& context) : previous_(t_current) {
  t_current = &context;
  omp_set_num_threads(context.num_threads());
}

ContextScope::~ContextScope() {
  t_current = previous_;
  omp_set_num_threads(Context::current().num_threads());
}

}  // namespace kiln
