// The picture of a nowcast: context and truth on top, forecasts below, in a
// rain-rate colour map.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/io/png.h"
#include "kiln/train/nowcast.h"

namespace kiln::train {
namespace {

constexpr int64_t kGap = 2;  // pixels of grey between frames

struct Anchor {
  double rate;  // mm/h
  std::array<uint8_t, 3> rgb;
};
// Interpolated in log(rate); below the first anchor is dry (white).
constexpr std::array<Anchor, 7> kColours = {{{0.1, {200, 225, 255}},
                                             {1, {60, 120, 230}},
                                             {4, {40, 170, 60}},
                                             {8, {240, 220, 40}},
                                             {16, {245, 130, 30}},
                                             {32, {220, 30, 30}},
                                             {64, {200, 40, 200}}}};

std::array<uint8_t, 3> colour(float rate) {
  if (!(rate >= kColours.front().rate)) return {255, 255, 255};
  if (rate >= kColours.back().rate) return kColours.back().rgb;
  size_t k = 0;
  while (rate >= kColours[k + 1].rate) ++k;
  const double t =
      std::log(rate / kColours[k].rate) / std::log(kColours[k + 1].rate / kColours[k].rate);
  std::array<uint8_t, 3> out{};
  for (int c = 0; c < 3; ++c) {
    out[c] = static_cast<uint8_t>(
        std::lround((1 - t) * kColours[k].rgb[c] + t * kColours[k + 1].rgb[c]));
  }
  return out;
}

// Draws frame (H, W) f32 with its top-left corner at (y0, x0).
void draw(std::vector<uint8_t>& rgb, int64_t width, const float* frame, int64_t h, int64_t w,
          int64_t y0, int64_t x0) {
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const auto c = colour(frame[y * w + x]);
      uint8_t* px = rgb.data() + ((y0 + y) * width + x0 + x) * 3;
      px[0] = c[0];
      px[1] = c[1];
      px[2] = c[2];
    }
  }
}

}  // namespace

absl::Status write_nowcast_png(const std::string& path, const Tensor& sequence,
                               int64_t context_frames, const std::vector<Tensor>& forecasts) {
  KILN_CHECK(sequence.defined() && sequence.dim() == 4 && sequence.size(3) == 1 &&
                 sequence.dtype() == DType::kF32 && context_frames >= 0 &&
                 context_frames < sequence.size(0),
             "write_nowcast_png: expects a (T, H, W, 1) f32 sequence longer than ", context_frames,
             " context frames, got ",
             sequence.defined() ? shape_str(sequence.shape()) : "undefined");
  const int64_t t = sequence.size(0), h = sequence.size(1), w = sequence.size(2);
  const int64_t leads = t - context_frames;
  for (const Tensor& f : forecasts) {
    KILN_CHECK(f.defined() && f.dtype() == DType::kF32 && f.shape() == Shape({leads, h, w, 1}),
               "write_nowcast_png: forecast ", f.defined() ? shape_str(f.shape()) : "undefined",
               ", expected (", leads, ", ", h, ", ", w, ", 1)");
  }
  const int64_t rows = 1 + static_cast<int64_t>(forecasts.size());
  const int64_t width = t * (w + kGap) + kGap, height = rows * (h + kGap) + kGap;
  std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3), 160);
  const Tensor seq = as_contiguous(sequence);  // (T, H, W, 1)
  for (int64_t k = 0; k < t; ++k) {
    draw(rgb, width, seq.data<float>() + k * h * w, h, w, kGap, kGap + k * (w + kGap));
  }
  for (int64_t r = 0; r + 1 < rows; ++r) {
    const Tensor f = as_contiguous(forecasts[r]);  // (Tl, H, W, 1)
    for (int64_t k = 0; k < leads; ++k) {
      draw(rgb, width, f.data<float>() + k * h * w, h, w, kGap + (r + 1) * (h + kGap),
           kGap + (context_frames + k) * (w + kGap));
    }
  }
  return io::write_png(path, rgb, height, width);
}

}  // namespace kiln::train
