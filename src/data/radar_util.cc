#include "src/data/radar_util.h"

#include <cmath>

#include <unsupported/Eigen/FFT>

namespace kiln::data::detail {

void fft2d(std::vector<std::complex<double>>& grid, int64_t h, int64_t w, bool inverse) {
  // One FFT object per call: Eigen's caches its plans in the object.
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> in(static_cast<size_t>(std::max(h, w)));
  std::vector<std::complex<double>> out;
  auto transform = [&](int64_t n) {
    in.resize(static_cast<size_t>(n));
    if (inverse) {
      fft.inv(out, in);
    } else {
      fft.fwd(out, in);
    }
  };
  for (int64_t y = 0; y < h; ++y) {
    std::copy(grid.begin() + y * w, grid.begin() + (y + 1) * w, in.begin());
    transform(w);
    std::copy(out.begin(), out.end(), grid.begin() + y * w);
  }
  for (int64_t x = 0; x < w; ++x) {
    for (int64_t y = 0; y < h; ++y) in[y] = grid[y * w + x];
    transform(h);
    for (int64_t y = 0; y < h; ++y) grid[y * w + x] = out[y];
  }
}

void compose_displacement(const float* d, const float* v, float* out, int64_t h, int64_t w,
                          Boundary edge) {
  const Boundary d_edge = edge == Boundary::kWrap ? Boundary::kWrap : Boundary::kClamp;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      float back[2];
      sample_bilinear(d, h, w, 2, y - v[2 * i], x - v[2 * i + 1], d_edge, back);
      out[2 * i] = v[2 * i] + back[0];
      out[2 * i + 1] = v[2 * i + 1] + back[1];
    }
  }
}

void warp_backward(const float* f, const float* d, float* out, int64_t h, int64_t w,
                   Boundary edge) {
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      out[i] = sample_bilinear(f, h, w, y - d[2 * i], x - d[2 * i + 1], edge);
    }
  }
}

}  // namespace kiln::data::detail
