// The trainer: runs an experiment config to completion (or to a signal),
// with evaluation, checkpoints, metrics.jsonl, summary.json and a progress
// bar. It knows tasks, not model families.
#pragma once

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "kiln/train/experiment_config.h"

namespace kiln::train {

struct TrainOptions {
  // Continue the run in this directory from its newest checkpoint.
  bool resume = false;
  std::FILE* console = stdout;
  // Redraw the progress bar in place (a terminal) or print plain lines.
  bool interactive = false;
  // Stop after this many steps of this invocation (0: no limit); for tests
  // that interrupt a run. The run is checkpointed at the stop, as for SIGINT.
  int64_t stop_after = 0;
};

struct TrainResult {
  Json summary;              // what summary.json holds
  bool interrupted = false;  // stopped by SIGINT/SIGTERM or stop_after
};

// Trains. Errors in the config, data or checkpoints come back as a status
// naming the file and the problem.
absl::StatusOr<TrainResult> train(const ExperimentConfig& config, const TrainOptions& options);

// Installs SIGINT/SIGTERM handlers that ask a running train() to finish its
// step, checkpoint and return.
void install_stop_signal_handlers();

}  // namespace kiln::train
