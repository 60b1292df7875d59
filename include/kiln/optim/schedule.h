// Learning-rate schedules: pure functions of the step, so resuming needs
// nothing but the step. `step` is the 0-based index of the update about to
// be taken (nfnets/experiment.py evaluates its schedule at global_step, so
// the first update uses the schedule's value at 0).
//
// The factories validate their arguments (kiln::Error naming the schedule
// and the value).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::optim {

class Schedule {
 public:
  enum class Kind { kConstant, kWarmupCosine, kWarmupLinear, kStepDecay };

  // value at every step.
  static Schedule constant(double value);

  // Linear warmup then cosine decay, deepmind-research nfnets/optim.py
  // WarmupCosineDecay:
  //   t <= warmup: start + (peak - start) * t / warmup
  //   t >  warmup: end + 0.5 * (peak - end) * (1 + cos(pi * (t - warmup) / (total - warmup)))
  // It reaches `end` (0 in the NFNets config) at t = total; kiln holds it
  // there for t > total (the official form would rise again). warmup may be
  // fractional (NFNets: 5 epochs of steps) and 0 (no warmup: the value at 0
  // is peak; the official form gives 0/0 there). 0 <= warmup <= total.
  static Schedule warmup_cosine(double peak, double warmup_steps, int64_t total_steps,
                                double end_value = 0, double start_value = 0);

  // Linear warmup as above, then linear decay from peak at warmup to `end`
  // at total, held after.
  static Schedule warmup_linear(double peak, double warmup_steps, int64_t total_steps,
                                double end_value = 0, double start_value = 0);

  // base * gamma^k, k the number of boundaries <= t (boundaries strictly
  // increasing, > 0; gamma > 0).
  static Schedule step_decay(double base, double gamma, std::vector<int64_t> boundaries);

  // The value at step t >= 0.
  double operator()(int64_t step) const;
  Kind kind() const { return kind_; }
  // E.g. "warmup_cosine(peak=1.6, warmup=1563.9, total=112603, end=0, start=0)".
  std::string describe() const;

 private:
  Schedule() = default;

  Kind kind_ = Kind::kConstant;
  double peak_ = 0;  // constant's value, step decay's base
  double start_ = 0;
  double end_ = 0;
  double warmup_ = 0;
  int64_t total_ = 0;
  double gamma_ = 1;
  std::vector<int64_t> boundaries_;
};

}  // namespace kiln::optim
