// Small helpers shared by the oneDNN kernels: dtype mapping, primitive cache
// keys, and running a primitive on the runtime's stream.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/copy.h"
#include "kernels/onednn/runtime.h"
#include "kiln/tensor/dtype.h"

namespace kiln::kernels::onednn {

inline dnnl::memory::data_type dnnl_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return dnnl::memory::data_type::f32;
    case DType::kBF16:
      return dnnl::memory::data_type::bf16;
    case DType::kI32:
      return dnnl::memory::data_type::s32;
    default:
      return dnnl::memory::data_type::undef;
  }
}

// Builds a cache key from a tag and integers: "conv:1,2,3".
class KeyBuilder {
 public:
  explicit KeyBuilder(const char* tag) : key_(tag) { key_ += ':'; }
  KeyBuilder& add(int64_t v) {
    key_ += std::to_string(v);
    key_ += ',';
    return *this;
  }
  template <size_t N>
  KeyBuilder& add(const int64_t (&values)[N], int count = N) {
    for (int i = 0; i < count; ++i) add(values[i]);
    key_ += ';';
    return *this;
  }
  const std::string& str() const { return key_; }

 private:
  std::string key_;
};

// A memory object viewing `data` (oneDNN does not take ownership).
inline dnnl::memory user_memory(OnednnRuntime& runtime, const dnnl::memory::desc& md,
                                const void* data) {
  return dnnl::memory(md, runtime.engine(), const_cast<void*>(data));
}

// Runs `primitive` and waits for it.
inline void execute(OnednnRuntime& runtime, const dnnl::primitive& primitive,
                    const std::unordered_map<int, dnnl::memory>& args) {
  primitive.execute(runtime.stream(), args);
  runtime.stream().wait();
}

// True if oneDNN has an implementation of this dtype on this CPU (bf16 needs
// AVX-512 in oneDNN 2.6); kernels compute in f32 with conversions otherwise.
template <class MakePd>
bool try_make_pd(MakePd&& make) {
  try {
    make();
    return true;
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented) return false;
    throw;
  }
}

// f32 copies of bf16 (or f32) buffers and back, for kernels that compute a
// bf16 operation in f32.
inline std::vector<float> to_f32_vector(const void* data, DType dtype, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (n == 0) return out;
  if (dtype == DType::kBF16) {
    bf16_to_f32(static_cast<const uint16_t*>(data), out.data(), n);
  } else {
    std::memcpy(out.data(), data, static_cast<size_t>(n) * sizeof(float));
  }
  return out;
}
inline void from_f32_vector(const std::vector<float>& values, DType dtype, void* data) {
  if (values.empty()) return;
  if (dtype == DType::kBF16) {
    f32_to_bf16(values.data(), static_cast<uint16_t*>(data), static_cast<int64_t>(values.size()));
  } else {
    std::memcpy(data, values.data(), values.size() * sizeof(float));
  }
}
inline std::vector<float> bf16_to_f32_vector(const void* data, int64_t n) {
  return to_f32_vector(data, DType::kBF16, n);
}
inline void f32_to_bf16_buffer(const std::vector<float>& values, void* data) {
  from_f32_vector(values, DType::kBF16, data);
}

}  // namespace kiln::kernels::onednn
