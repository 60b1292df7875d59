#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/radar.h"
#include "src/data/radar_util.h"

namespace kiln::data {

Tensor radial_power_spectrum(const Tensor& frame) {
  KILN_CHECK(frame.defined() && frame.dim() == 2 && frame.dtype() == DType::kF32 &&
                 std::min(frame.size(0), frame.size(1)) >= 2,
             "radial_power_spectrum: expects an (H, W) f32 frame with H, W >= 2, got ",
             frame.defined() ? shape_str(frame.shape()) : "undefined");
  const int64_t h = frame.size(0), w = frame.size(1), side = std::min(h, w), bins = side / 2;
  const Tensor src = as_contiguous(frame);  // (H, W)
  const float* f = src.data<float>();
  std::vector<std::complex<double>> grid(f, f + h * w);
  detail::fft2d(grid, h, w, /*inverse=*/false);
  std::vector<double> sum(static_cast<size_t>(bins + 1), 0.0);
  std::vector<int64_t> count(sum.size(), 0);
  for (int64_t ky = 0; ky < h; ++ky) {
    const double fy = static_cast<double>(ky <= h / 2 ? ky : ky - h) / h;
    for (int64_t kx = 0; kx < w; ++kx) {
      const double fx = static_cast<double>(kx <= w / 2 ? kx : kx - w) / w;
      const auto k = static_cast<int64_t>(std::lround(std::hypot(fy, fx) * side));
      if (k < 1 || k > bins) continue;
      sum[k] += std::norm(grid[ky * w + kx]) / static_cast<double>(h * w);
      ++count[k];
    }
  }
  Tensor out = Tensor::empty({bins});  // (K)
  for (int64_t k = 1; k <= bins; ++k) {
    out.data<float>()[k - 1] = count[k] > 0 ? static_cast<float>(sum[k] / count[k]) : 0.0f;
  }
  return out;
}

}  // namespace kiln::data
