// Image augmentation on (H, W, C) f32 tensors. Each random function reserves
// one Philox block from the generator it is given, whatever it draws, so a
// chain of augmentations always consumes the same counters.
#include "kiln/data/augment.h"

#include <utility>

#include "kiln/core/error.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

void check_image(const Tensor& image, const char* op) {
  KILN_CHECK(image.defined(), op, ": undefined image");
  KILN_CHECK(image.dim() == 3 && image.dtype() == DType::kF32, op,
             ": expects an (H, W, C) f32 image, got ", shape_str(image.shape()), " ",
             dtype_name(image.dtype()));
}

// Index into [0, n) of padded coordinate i - padding; -1 for a zero pixel.
int64_t source_index(int64_t i, int64_t n, PadMode mode) {
  if (i >= 0 && i < n) return i;
  if (mode == PadMode::kConstant) return -1;
  return i < 0 ? -i : 2 * (n - 1) - i;  // reflect: padding < n keeps this in range
}

// 64 random bits from lanes (a, a + 1) of a block.
uint64_t bits64(const std::array<uint32_t, 4>& r, int a) {
  return (static_cast<uint64_t>(r[a + 1]) << 32) | r[a];
}

}  // namespace

Tensor pad_and_crop(const Tensor& image, int64_t padding, PadMode mode, int64_t top, int64_t left) {
  check_image(image, "pad_and_crop");
  const int64_t h = image.size(0), w = image.size(1), c = image.size(2);
  KILN_CHECK(padding >= 0, "pad_and_crop: padding must be >= 0, got ", padding);
  KILN_CHECK(mode != PadMode::kReflect || (padding < h && padding < w),
             "pad_and_crop: reflect padding ", padding, " must be below the image size ", h, " x ",
             w);
  KILN_CHECK(top >= 0 && top <= 2 * padding && left >= 0 && left <= 2 * padding,
             "pad_and_crop: corner (", top, ", ", left, ") outside [0, ", 2 * padding,
             "] with padding ", padding);
  const Tensor src = as_contiguous(image);
  const float* in = src.data<float>();
  Tensor out = Tensor::empty({h, w, c}, DType::kF32);
  float* dst = out.data<float>();
  for (int64_t y = 0; y < h; ++y) {
    const int64_t sy = source_index(y + top - padding, h, mode);
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sx = source_index(x + left - padding, w, mode);
      float* o = dst + (y * w + x) * c;
      if (sy < 0 || sx < 0) {
        for (int64_t k = 0; k < c; ++k) o[k] = 0.0f;
      } else {
        const float* i = in + (sy * w + sx) * c;
        for (int64_t k = 0; k < c; ++k) o[k] = i[k];
      }
    }
  }
  return out;
}

Tensor random_crop(const Tensor& image, int64_t padding, PadMode mode, Generator& gen) {
  KILN_CHECK(padding >= 0, "random_crop: padding must be >= 0, got ", padding);
  const auto r = kernels::philox4x32(gen.seed(), gen.reserve(1));
  const uint64_t choices = static_cast<uint64_t>(2 * padding + 1);
  const auto top = static_cast<int64_t>(detail::uniform_below(bits64(r, 0), choices));
  const auto left = static_cast<int64_t>(detail::uniform_below(bits64(r, 2), choices));
  return pad_and_crop(image, padding, mode, top, left);
}

Tensor horizontal_flip(const Tensor& image) {
  check_image(image, "horizontal_flip");
  const int64_t h = image.size(0), w = image.size(1), c = image.size(2);
  const Tensor src = as_contiguous(image);
  const float* in = src.data<float>();
  Tensor out = Tensor::empty({h, w, c}, DType::kF32);
  float* dst = out.data<float>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const float* i = in + (y * w + (w - 1 - x)) * c;
      float* o = dst + (y * w + x) * c;
      for (int64_t k = 0; k < c; ++k) o[k] = i[k];
    }
  }
  return out;
}

Tensor random_horizontal_flip(const Tensor& image, Generator& gen, double p) {
  KILN_CHECK(p >= 0.0 && p <= 1.0, "random_horizontal_flip: p must be in [0, 1], got ", p);
  check_image(image, "random_horizontal_flip");
  const auto r = kernels::philox4x32(gen.seed(), gen.reserve(1));
  const double u = static_cast<double>(bits64(r, 0) >> 11) * 0x1.0p-53;  // [0, 1)
  return u < p ? horizontal_flip(image) : image;
}

Tensor normalize(const Tensor& image, const std::vector<float>& mean,
                 const std::vector<float>& std) {
  check_image(image, "normalize");
  const int64_t c = image.size(2);
  KILN_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c,
             "normalize: image ", shape_str(image.shape()), " has ", c, " channels but mean has ",
             mean.size(), " and std ", std.size(), " entries");
  std::vector<float> inv(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) {
    KILN_CHECK(std[k] > 0.0f, "normalize: std[", k, "] = ", std[k], " must be > 0");
    inv[k] = 1.0f / std[k];
  }
  const Tensor src = as_contiguous(image);
  const float* in = src.data<float>();
  Tensor out = Tensor::empty(image.shape(), DType::kF32);
  float* dst = out.data<float>();
  const int64_t pixels = image.size(0) * image.size(1);
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t k = 0; k < c; ++k) dst[p * c + k] = (in[p * c + k] - mean[k]) * inv[k];
  }
  return out;
}

Transform image_augmentation(ImageAugmentOptions options) {
  KILN_CHECK(options.crop_padding >= 0, "image_augmentation: crop_padding must be >= 0, got ",
             options.crop_padding);
  KILN_CHECK(options.mean.size() == options.std.size(), "image_augmentation: mean has ",
             options.mean.size(), " entries but std has ", options.std.size());
  for (size_t k = 0; k < options.std.size(); ++k) {
    KILN_CHECK(options.std[k] > 0.0f, "image_augmentation: std[", k, "] = ", options.std[k],
               " must be > 0");
  }
  return [o = std::move(options)](Example example, Generator& gen) {
    Tensor image = example.at(o.key);
    if (o.crop_padding > 0) image = random_crop(image, o.crop_padding, o.pad_mode, gen);
    if (o.horizontal_flip) image = random_horizontal_flip(image, gen);
    if (!o.mean.empty()) image = normalize(image, o.mean, o.std);
    example.set(o.key, std::move(image));
    return example;
  };
}

DatasetPtr batch_with_multiplicity(DatasetPtr dataset, Transform augment,
                                   const MultiplicityOptions& options) {
  const int64_t b = options.batch_size, m = options.multiplicity;
  KILN_CHECK(b >= 1 && m >= 1 && b % m == 0, "batch_with_multiplicity: multiplicity ", m,
             " must be >= 1 and divide the batch size ", b);
  return batch(map(repeat_each(std::move(dataset), m), std::move(augment), options.stream), b,
               options.drop_last);
}

}  // namespace kiln::data
