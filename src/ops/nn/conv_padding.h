// Padding rules shared by the convolution and pooling ops: explicit, TensorFlow
// SAME (total = max((ceil(in / s) - 1) * s + k_eff - in, 0), half before and
// the rest after) and VALID (none).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "kiln/ops/nn.h"

namespace kiln::ops_internal {

// (before, after) padding of one spatial dim with an effective (dilated)
// window k_eff = (k - 1) * dilation + 1.
inline std::array<int64_t, 2> same_padding(int64_t in, int64_t k_eff, int64_t stride) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + k_eff - in, 0);
  return {total / 2, total - total / 2};
}

// (top, bottom, left, right) for `mode`; `explicit_padding` is used for
// kExplicit. Arguments are assumed checked (positive strides and windows).
inline std::array<int64_t, 4> resolve_padding(PaddingMode mode,
                                              const std::array<int64_t, 4>& explicit_padding,
                                              int64_t h, int64_t w, int64_t kh_eff, int64_t kw_eff,
                                              const std::array<int64_t, 2>& stride) {
  switch (mode) {
    case PaddingMode::kSame: {
      const std::array<int64_t, 2> ph = same_padding(h, kh_eff, stride[0]);
      const std::array<int64_t, 2> pw = same_padding(w, kw_eff, stride[1]);
      return {ph[0], ph[1], pw[0], pw[1]};
    }
    case PaddingMode::kValid:
      return {0, 0, 0, 0};
    case PaddingMode::kExplicit:
      break;
  }
  return explicit_padding;
}

// (front, back, top, bottom, left, right) for `mode`, as resolve_padding
// with a depth dim in front.
inline std::array<int64_t, 6> resolve_padding_3d(PaddingMode mode,
                                                 const std::array<int64_t, 6>& explicit_padding,
                                                 const std::array<int64_t, 3>& in,
                                                 const std::array<int64_t, 3>& k_eff,
                                                 const std::array<int64_t, 3>& stride) {
  if (mode == PaddingMode::kExplicit) return explicit_padding;
  std::array<int64_t, 6> pad{};
  if (mode == PaddingMode::kSame) {
    for (size_t i = 0; i < 3; ++i) {
      const std::array<int64_t, 2> p = same_padding(in[i], k_eff[i], stride[i]);
      pad[2 * i] = p[0];
      pad[2 * i + 1] = p[1];
    }
  }
  return pad;
}

}  // namespace kiln::ops_internal
