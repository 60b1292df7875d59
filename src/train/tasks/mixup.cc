#include "src/train/tasks/mixup.h"

#include <algorithm>
#include <cmath>

#include "kiln/ops/random.h"

namespace kiln::train {
namespace {

// Uniform [0, 1) doubles drawn from `gen` in chunks (a fixed sequence for a
// given generator state).
class UniformStream {
 public:
  explicit UniformStream(Generator& gen) : gen_(gen) {}
  double next() {
    if (pos_ == buffer_.size()) {
      buffer_ = to_vector(uniform({kChunk}, 0.0, 1.0, gen_, DType::kF64));
      pos_ = 0;
    }
    return buffer_[pos_++];
  }
  // (0, 1], safe for log.
  double next_open() { return 1.0 - next(); }
  double normal() {
    const double r = std::sqrt(-2.0 * std::log(next_open()));
    return r * std::cos(2.0 * M_PI * next());
  }

 private:
  static constexpr int64_t kChunk = 64;
  Generator& gen_;
  std::vector<double> buffer_;
  size_t pos_ = 0;
};

// log of a Gamma(alpha, 1) draw: Marsaglia-Tsang on alpha + 1, then the
// boost Gamma(alpha) = Gamma(alpha + 1) * U^(1 / alpha), kept in log space
// (U^(1 / alpha) underflows for small alpha).
double log_gamma_sample(double alpha, UniformStream& u) {
  const double k = alpha < 1 ? alpha + 1 : alpha;
  const double d = k - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  double log_g = 0;
  while (true) {
    const double x = u.normal();
    double v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double log_u = std::log(u.next_open());
    if (log_u < 0.5 * x * x + d - d * v + d * std::log(v)) {
      log_g = std::log(d * v);
      break;
    }
  }
  if (alpha < 1) log_g += std::log(u.next_open()) / alpha;
  return log_g;
}

double beta_from(double alpha, UniformStream& u) {
  const double log_x = log_gamma_sample(alpha, u);
  const double log_y = log_gamma_sample(alpha, u);
  // x / (x + y) = 1 / (1 + exp(log_y - log_x))
  return 1.0 / (1.0 + std::exp(log_y - log_x));
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

double sample_beta(double alpha, Generator& gen) {
  KILN_CHECK(alpha > 0, "sample_beta: alpha must be positive, got ", alpha);
  UniformStream u(gen);
  return beta_from(alpha, u);
}

Generator mix_generator(uint64_t seed, int64_t step) {
  // A stream of its own: distinct from the loader's and the model's seeds.
  return Generator(splitmix64(splitmix64(seed ^ 0x6d69787570ULL) + static_cast<uint64_t>(step)));
}

MixedBatch mix_batch(const Tensor& images, const Tensor& labels, const MixOptions& options,
                     Generator& gen) {
  KILN_CHECK(images.dim() == 4 && images.dtype() == DType::kF32,
             "mix_batch: images must be (N, H, W, C) f32, got ", shape_str(images.shape()), " ",
             dtype_name(images.dtype()));
  KILN_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0) && !is_floating(labels.dtype()),
             "mix_batch: labels must be (N) integers for images ", shape_str(images.shape()),
             ", got ", shape_str(labels.shape()), " ", dtype_name(labels.dtype()));
  KILN_CHECK(options.enabled(), "mix_batch: neither mixup nor cutmix is enabled");
  KILN_CHECK(!options.mixup || options.mixup_alpha > 0,
             "mix_batch: mixup_alpha must be positive, got ", options.mixup_alpha);
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2), c = images.size(3);
  const int64_t pixels = h * w * c;
  const Tensor src_tensor = as_contiguous(images);
  const float* src = src_tensor.data<float>();
  MixedBatch out;
  out.images = Tensor::empty(images.shape(), DType::kF32);
  float* dst = out.images.data<float>();
  const std::vector<double> y = to_vector(labels);
  const int64_t num_mixup = !options.mixup ? 0 : (options.cutmix ? n / 2 : n);
  UniformStream u(gen);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = (i + 1) % n;
    const float* xa = src + i * pixels;
    const float* xb = src + j * pixels;
    float* xo = dst + i * pixels;
    double ratio = 1.0;
    if (i < num_mixup) {
      ratio = beta_from(options.mixup_alpha, u);
      const auto r = static_cast<float>(ratio);
      for (int64_t k = 0; k < pixels; ++k) xo[k] = r * xa[k] + (1.0f - r) * xb[k];
    } else {
      // cutmix_padding: centre (r_y, r_x) uniform over pixels, side ratio sqrt(1 - U).
      const auto r_x = std::min<int64_t>(w - 1, static_cast<int64_t>(u.next() * w));
      const auto r_y = std::min<int64_t>(h - 1, static_cast<int64_t>(u.next() * h));
      const double side = std::sqrt(1.0 - u.next());
      const auto r_w = static_cast<int64_t>(side * static_cast<double>(w));
      const auto r_h = static_cast<int64_t>(side * static_cast<double>(h));
      const int64_t x1 = std::clamp<int64_t>(r_x - r_w / 2, 0, w);
      const int64_t x2 = std::clamp<int64_t>(r_x + r_w / 2, 0, w);
      const int64_t y1 = std::clamp<int64_t>(r_y - r_h / 2, 0, h);
      const int64_t y2 = std::clamp<int64_t>(r_y + r_h / 2, 0, h);
      std::copy(xb, xb + pixels, xo);
      for (int64_t row = y1; row < y2; ++row) {
        const int64_t begin = (row * w + x1) * c, end = (row * w + x2) * c;
        std::copy(xa + begin, xa + end, xo + begin);
      }
      ratio = static_cast<double>((y2 - y1) * (x2 - x1)) / static_cast<double>(h * w);
    }
    out.primary.push_back(static_cast<int64_t>(y[i]));
    out.partner.push_back(static_cast<int64_t>(y[j]));
    out.ratio.push_back(ratio);
  }
  return out;
}

Tensor MixedBatch::targets(int64_t num_classes) const {
  const auto n = static_cast<int64_t>(ratio.size());
  Tensor t = zeros({n, num_classes});
  float* p = t.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t label : {primary[i], partner[i]}) {
      KILN_CHECK(label >= 0 && label < num_classes, "mix_batch: label ", label, " is outside [0, ",
                 num_classes, ")");
    }
    p[i * num_classes + primary[i]] += static_cast<float>(ratio[i]);
    p[i * num_classes + partner[i]] += static_cast<float>(1.0 - ratio[i]);
  }
  return t;
}

}  // namespace kiln::train
