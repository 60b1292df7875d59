#include "kiln/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kiln/core/error.h"
#include "src/optim/optim_util.h"

namespace kiln::optim {
namespace {

void check_warmup(const char* who, double peak, double warmup, int64_t total, double end,
                  double start) {
  internal::check_nonnegative(who, "peak", peak);
  internal::check_nonnegative(who, "end_value", end);
  internal::check_nonnegative(who, "start_value", start);
  KILN_CHECK(total > 0, who, ": total_steps is ", total, "; it must be > 0");
  KILN_CHECK(std::isfinite(warmup) && warmup >= 0 && warmup <= static_cast<double>(total), who,
             ": warmup_steps is ", warmup, "; it must be in [0, total_steps = ", total, "]");
}

}  // namespace

Schedule Schedule::constant(double value) {
  internal::check_nonnegative("constant schedule", "value", value);
  Schedule s;
  s.kind_ = Kind::kConstant;
  s.peak_ = value;
  return s;
}

Schedule Schedule::warmup_cosine(double peak, double warmup_steps, int64_t total_steps,
                                 double end_value, double start_value) {
  check_warmup("warmup_cosine schedule", peak, warmup_steps, total_steps, end_value, start_value);
  Schedule s;
  s.kind_ = Kind::kWarmupCosine;
  s.peak_ = peak;
  s.warmup_ = warmup_steps;
  s.total_ = total_steps;
  s.end_ = end_value;
  s.start_ = start_value;
  return s;
}

Schedule Schedule::warmup_linear(double peak, double warmup_steps, int64_t total_steps,
                                 double end_value, double start_value) {
  check_warmup("warmup_linear schedule", peak, warmup_steps, total_steps, end_value, start_value);
  Schedule s = warmup_cosine(peak, warmup_steps, total_steps, end_value, start_value);
  s.kind_ = Kind::kWarmupLinear;
  return s;
}

Schedule Schedule::step_decay(double base, double gamma, std::vector<int64_t> boundaries) {
  internal::check_nonnegative("step_decay schedule", "base", base);
  KILN_CHECK(std::isfinite(gamma) && gamma > 0, "step_decay schedule: gamma is ", gamma,
             "; it must be finite and > 0");
  for (size_t i = 0; i < boundaries.size(); ++i) {
    KILN_CHECK(boundaries[i] > 0 && (i == 0 || boundaries[i] > boundaries[i - 1]),
               "step_decay schedule: boundaries (", absl::StrJoin(boundaries, ", "),
               ") must be > 0 and strictly increasing");
  }
  Schedule s;
  s.kind_ = Kind::kStepDecay;
  s.peak_ = base;
  s.gamma_ = gamma;
  s.boundaries_ = std::move(boundaries);
  return s;
}

double Schedule::operator()(int64_t step) const {
  KILN_CHECK(step >= 0, "schedule: step is ", step, "; it must be >= 0");
  const double t = static_cast<double>(step);
  switch (kind_) {
    case Kind::kConstant:
      return peak_;
    case Kind::kStepDecay: {
      const auto passed =
          std::upper_bound(boundaries_.begin(), boundaries_.end(), step) - boundaries_.begin();
      return peak_ * std::pow(gamma_, static_cast<double>(passed));
    }
    case Kind::kWarmupCosine:
    case Kind::kWarmupLinear:
      break;
  }
  // The official selector: the warmup value while t <= warmup.
  if (warmup_ > 0 && t <= warmup_) return start_ + (peak_ - start_) * (t / warmup_);
  const double span = static_cast<double>(total_) - warmup_;
  const double x = span > 0 ? std::min(1.0, (t - warmup_) / span) : 1.0;
  if (kind_ == Kind::kWarmupLinear) return peak_ + (end_ - peak_) * x;
  return end_ + 0.5 * (peak_ - end_) * (1.0 + std::cos(std::numbers::pi * x));
}

std::string Schedule::describe() const {
  switch (kind_) {
    case Kind::kConstant:
      return absl::StrCat("constant(", peak_, ")");
    case Kind::kStepDecay:
      return absl::StrCat("step_decay(base=", peak_, ", gamma=", gamma_, ", boundaries=[",
                          absl::StrJoin(boundaries_, ", "), "])");
    case Kind::kWarmupCosine:
    case Kind::kWarmupLinear:
      break;
  }
  return absl::StrCat(kind_ == Kind::kWarmupCosine ? "warmup_cosine" : "warmup_linear",
                      "(peak=", peak_, ", warmup=", warmup_, ", total=", total_, ", end=", end_,
                      ", start=", start_, ")");
}

}  // namespace kiln::optim
