#include "src/data/radar_util.h"

#include <cmath>

#include <unsupported/Eigen/FFT>

namespace kiln::data::detail {
namespace {

int64_t wrap(int64_t i, int64_t n) {
  const int64_t r = i % n;
  return r < 0 ? r + n : r;
}

}  // namespace

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

float sample_bilinear(const float* f, int64_t h, int64_t w, double y, double x, Boundary edge) {
  const double fy = std::floor(y), fx = std::floor(x);
  const auto y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  const double ty = y - fy, tx = x - fx;
  auto at = [&](int64_t yy, int64_t xx) -> double {
    switch (edge) {
      case Boundary::kWrap:
        return f[wrap(yy, h) * w + wrap(xx, w)];
      case Boundary::kClamp:
        return f[std::clamp<int64_t>(yy, 0, h - 1) * w + std::clamp<int64_t>(xx, 0, w - 1)];
      case Boundary::kZero:
        return yy < 0 || yy >= h || xx < 0 || xx >= w ? 0.0 : f[yy * w + xx];
    }
    return 0.0;
  };
  const double top = (1 - tx) * at(y0, x0) + tx * at(y0, x0 + 1);
  const double bottom = (1 - tx) * at(y0 + 1, x0) + tx * at(y0 + 1, x0 + 1);
  return static_cast<float>((1 - ty) * top + ty * bottom);
}

void compose_displacement(const float* d, const float* v, float* out, int64_t h, int64_t w,
                          Boundary edge) {
  const Boundary d_edge = edge == Boundary::kWrap ? Boundary::kWrap : Boundary::kClamp;
  // The (H, W, 2) displacement as two (H, W) planes for the sampler.
  std::vector<float> dy(static_cast<size_t>(h * w)), dx(static_cast<size_t>(h * w));
  for (int64_t i = 0; i < h * w; ++i) {
    dy[i] = d[2 * i];
    dx[i] = d[2 * i + 1];
  }
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      const double sy = y - v[2 * i], sx = x - v[2 * i + 1];
      out[2 * i] = v[2 * i] + sample_bilinear(dy.data(), h, w, sy, sx, d_edge);
      out[2 * i + 1] = v[2 * i + 1] + sample_bilinear(dx.data(), h, w, sy, sx, d_edge);
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
