#include "kiln/nn/init.h"

#include <cmath>

#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/random.h"

namespace kiln::nn::init {
namespace {

// Stddev of a standard normal truncated to [-2, 2].
constexpr double kTruncatedStd = 0.87962566103423978;

void assign(const Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  copy_(t, values);
}

}  // namespace

int64_t fan_in(const Tensor& w) {
  KILN_CHECK(w.dim() >= 1, "fan_in: needs a tensor of rank >= 1, got ", shape_str(w.shape()));
  return w.size(-1) == 0 ? 0 : w.numel() / w.size(-1);
}

int64_t fan_out(const Tensor& w) {
  KILN_CHECK(w.dim() >= 1, "fan_out: needs a tensor of rank >= 1, got ", shape_str(w.shape()));
  if (w.dim() == 1) return w.size(0);
  return w.size(-2) == 0 ? 0 : w.numel() / w.size(-2);
}

void zeros_(const Tensor& t) { constant_(t, 0.0); }
void ones_(const Tensor& t) { constant_(t, 1.0); }

void constant_(const Tensor& t, double value) {
  NoGradGuard no_grad;
  fill_(t, value);
}

void uniform_(const Tensor& t, double lo, double hi, Generator& gen) {
  assign(t, uniform(t.shape(), lo, hi, gen, t.dtype()));
}

void normal_(const Tensor& t, double mean, double stddev, Generator& gen) {
  assign(t, normal(t.shape(), mean, stddev, gen, t.dtype()));
}

void truncated_normal_(const Tensor& t, double mean, double stddev, Generator& gen) {
  assign(t, truncated_normal(t.shape(), mean, stddev, gen, t.dtype()));
}

void variance_scaling_(const Tensor& t, double scale, FanMode mode, Distribution distribution,
                       Generator& gen) {
  double fan = 0;
  switch (mode) {
    case FanMode::kFanIn:
      fan = static_cast<double>(fan_in(t));
      break;
    case FanMode::kFanOut:
      fan = static_cast<double>(fan_out(t));
      break;
    case FanMode::kFanAvg:
      fan = 0.5 * static_cast<double>(fan_in(t) + fan_out(t));
      break;
  }
  KILN_CHECK(fan > 0, "variance_scaling_: zero fan for shape ", shape_str(t.shape()));
  const double variance = scale / fan;
  switch (distribution) {
    case Distribution::kNormal:
      return normal_(t, 0.0, std::sqrt(variance), gen);
    case Distribution::kTruncatedNormal:
      return truncated_normal_(t, 0.0, std::sqrt(variance) / kTruncatedStd, gen);
    case Distribution::kUniform: {
      const double limit = std::sqrt(3.0 * variance);
      return uniform_(t, -limit, limit, gen);
    }
  }
}

void kaiming_normal_(const Tensor& t, Generator& gen, double gain) {
  variance_scaling_(t, gain * gain, FanMode::kFanIn, Distribution::kNormal, gen);
}

void kaiming_uniform_(const Tensor& t, Generator& gen, double gain) {
  variance_scaling_(t, gain * gain, FanMode::kFanIn, Distribution::kUniform, gen);
}

void xavier_normal_(const Tensor& t, Generator& gen) {
  variance_scaling_(t, 1.0, FanMode::kFanAvg, Distribution::kNormal, gen);
}

void xavier_uniform_(const Tensor& t, Generator& gen) {
  variance_scaling_(t, 1.0, FanMode::kFanAvg, Distribution::kUniform, gen);
}

}  // namespace kiln::nn::init
