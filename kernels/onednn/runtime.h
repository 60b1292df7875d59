// The oneDNN engine and stream kiln runs its primitives on, and a cache of
// created primitives keyed by their full description (creating a primitive
// descriptor costs tens of microseconds; a training step reuses the same
// shapes every time).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"

namespace kiln::kernels {

class OnednnRuntime {
 public:
  OnednnRuntime() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  dnnl::engine& engine() { return engine_; }
  dnnl::stream& stream() { return stream_; }

  struct CacheStats {
    int64_t hits = 0;
    int64_t misses = 0;  // entries created
    int64_t size = 0;
  };
  CacheStats cache_stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {hits_, misses_, static_cast<int64_t>(lru_.size())};
  }

  // Returns the cached entry for `key`, creating it with `create` on a miss.
  // Entries are type-erased shared_ptrs; T must match the type stored.
  template <class T>
  std::shared_ptr<T> cached(const std::string& key,
                            const std::function<std::shared_ptr<T>()>& create) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second);
      return std::static_pointer_cast<T>(it->second->second);
    }
    std::shared_ptr<T> value = create();
    ++misses_;
    lru_.emplace_front(key, value);
    index_[key] = lru_.begin();
    if (lru_.size() > kCapacity) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return value;
  }

 private:
  static constexpr size_t kCapacity = 1024;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::mutex mutex_;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  std::list<std::pair<std::string, std::shared_ptr<void>>> lru_;
  std::unordered_map<std::string,
                     std::list<std::pair<std::string, std::shared_ptr<void>>>::iterator>
      index_;
};

}  // namespace kiln::kernels
