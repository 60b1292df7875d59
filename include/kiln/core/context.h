// Context: the one explicit owner of run-time resources: the oneDNN engine,
// stream and primitive cache, the allocator, the thread count and a default
// random generator.
//
// Ops reach the context of the calling thread through Context::current(),
// which is the innermost ContextScope on this thread or, if there is none,
// a process-wide default created on first use. Installing a context is
// explicit (ContextScope); nothing reads environment variables behind the
// user's back.
#pragma once

#include <cstdint>
#include <memory>

#include "kiln/tensor/generator.h"

namespace kiln {

namespace kernels {
class OnednnRuntime;
}

struct ContextOptions {
  // Worker threads for kernels; 0 means one per available core.
  int num_threads = 0;
  uint64_t seed = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns memory aligned to kStorageAlignment; never null (throws on failure).
  virtual void* allocate(int64_t nbytes) = 0;
  virtual void deallocate(void* data, int64_t nbytes) = 0;
};

class Context {
 public:
  explicit Context(ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  static Context& current();

  int num_threads() const { return num_threads_; }
  void set_num_threads(int num_threads);
  Generator& generator() { return generator_; }
  Allocator& allocator() { return *allocator_; }
  // Shared by every allocation made through this context; keeps the
  // allocator alive as long as storage allocated from it.
  const std::shared_ptr<Allocator>& allocator_ptr() const { return allocator_; }
  kernels::OnednnRuntime& onednn();

 private:
  int num_threads_ = 1;
  Generator generator_;
  std::shared_ptr<Allocator> allocator_;
  std::unique_ptr<kernels::OnednnRuntime> onednn_;
};

// Makes `context` current on this thread for the scope's lifetime.
class ContextScope {
 public:
  explicit ContextScope(Context& context);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  Context* previous_;
};

}  // namespace kiln
