// kiln bench: times training steps of a config's model and optimizer on
// random inputs generated once, by the timing rule of benchmarks.md (3
// warm-up steps, then 10 timed steps: forward + backward + update,
// including the loss; data loading is not timed).
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "kiln/train/experiment_config.h"

namespace kiln::train {

struct BenchOptions {
  int warmup_steps = 3;
  int timed_steps = 10;
};

struct BenchResult {
  std::string name;
  std::vector<double> step_seconds;  // the timed steps
  double median_step_s = 0, min_step_s = 0, max_step_s = 0;
  int64_t examples_per_step = 0;
  double examples_per_s = 0;
  int64_t flops_per_step = 0;  // matmul/conv/attention FLOPs (3x forward)
  double gflops = 0;           // flops_per_step / median_step_s
  int64_t peak_rss_bytes = 0;  // the process's peak resident memory
  Json to_json() const;
};

absl::StatusOr<BenchResult> bench_config(const ExperimentConfig& config,
                                         const BenchOptions& options);
// The op-level workloads of benchmarks.md: matmul_1024 and conv3x3_256.
std::vector<BenchResult> bench_ops(const BenchOptions& options);

}  // namespace kiln::train
