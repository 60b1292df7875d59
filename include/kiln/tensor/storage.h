// Storage: a reference-counted, 64-byte aligned byte buffer shared by every
// tensor that views it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace kiln {

inline constexpr int64_t kStorageAlignment = 64;

class Storage {
 public:
  using Deleter = std::function<void(void*)>;

  // Takes ownership of `data` (at least `nbytes`, aligned to kStorageAlignment).
  Storage(void* data, int64_t nbytes, Deleter deleter)
      : data_(data), nbytes_(nbytes), deleter_(std::move(deleter)) {}
  ~Storage() {
    if (deleter_) deleter_(data_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }

 private:
  void* data_;
  int64_t nbytes_;
  Deleter deleter_;
};

}  // namespace kiln
