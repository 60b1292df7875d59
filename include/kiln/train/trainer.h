// The trainer: runs an experiment config to completion (or to a signal),
// with evaluation, checkpoints, metrics.jsonl, summary.json and a progress
// bar. It knows tasks, not model families.
#pragma once

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "kiln/train/experiment_config.h"

namespace kiln::train {

class Communicator;  // kiln/train/distributed.h

struct TrainOptions {
  // Continue the run in this directory from its newest checkpoint.
  bool resume = false;
  std::FILE* console = stdout;
  // Redraw the progress bar in place (a terminal) or print plain lines.
  bool interactive = false;
  // Stop after this many steps of this invocation (0: no limit); for tests
  // that interrupt a run. The run is checkpointed at the stop, as for SIGINT.
  int64_t stop_after = 0;
  // Data-parallel training (docs/distributed.md): the job's ranks, or null
  // for this process alone. Every rank calls train() with the same config;
  // rank 0's state is broadcast at the start (from its checkpoint when
  // resuming), each rank trains on its share of every global batch with the
  // gradients averaged across ranks, and only rank 0 writes the run
  // directory and the console. On an error the other ranks may be left
  // waiting in a collective: end the job (Communicator::abort), as the CLI
  // does.
  Communicator* communicator = nullptr;
  // Gradients are averaged across ranks in buckets of about this size.
  int64_t gradient_bucket_bytes = 25 << 20;
};

struct TrainResult {
  // What summary.json holds: model, parameters, steps, final_train_loss (the
  // last step's), final_train_loss_avg (the mean over the last 10% of this
  // invocation's steps), wall_seconds, train_seconds, examples_per_second,
  // flops_per_step, train_flops, skipped_steps (steps whose non-finite
  // gradients were skipped, for tasks that count them), interrupted and
  // eval_<metric> of the last evaluation.
  Json summary;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM or stop_after
};

// Trains. Errors in the config, data or checkpoints come back as a status
// naming the file and the problem.
absl::StatusOr<TrainResult> train(const ExperimentConfig& config, const TrainOptions& options);

// Installs SIGINT/SIGTERM/SIGUSR1 handlers that ask a running train() to
// finish its step, checkpoint and return (under mpirun: kill -USR1 mpirun's
// pid, which it forwards to every rank).
void install_stop_signal_handlers();

}  // namespace kiln::train
