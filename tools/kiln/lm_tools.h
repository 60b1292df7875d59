// Helpers shared by the language-model commands (eval --by-position,
// needle, rankcollapse): building a config's model and loading a
// checkpoint's weights into it, and per-token negative log-likelihoods.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/models/model.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/long_context.h"
#include "src/train/builders.h"

namespace kiln::cli {

// The model of `config` built exactly as `kiln train` builds it at step 0
// (the same initialisation seed), on the shapes of `data`.
absl::StatusOr<std::shared_ptr<models::Model>> build_initial_model(
    const train::ExperimentConfig& config, const train::RunData& data);

// Loads the weights of a checkpoint (a step_NNNNNNNNNN directory or a run's
// checkpoints/ directory: its newest) into `model`; `ema` picks the EMA
// weights. Returns the checkpoint's step.
absl::StatusOr<int64_t> load_checkpoint_weights(models::Model& model, const std::string& path,
                                                bool ema);

// tokens (B, T + 1) -> next-token NLL (B, T) in nats, in eval mode without
// gradients, row-major.
std::vector<double> token_nll(models::Model& model, const Tensor& tokens);

// Writes `text` to `path` (creating parent directories).
absl::Status write_text_file(const std::string& path, const std::string& text);

// A heatmap SVG: rows x cols cells coloured by value in [0, 1] (annotated).
std::string svg_heatmap(const std::string& title, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels,
                        const std::vector<std::vector<double>>& values, const std::string& x_label,
                        const std::string& y_label);

}  // namespace kiln::cli

namespace kiln::cli {

struct ByPositionOptions {
  int64_t buckets = 24;     // log-spaced position buckets of the table and the fit
  int64_t max_batches = 0;  // 0: every held-out batch
  std::string out_dir;      // nll_by_position.{csv,md,svg}, nll_fit.json
};

// NLL by token position over the held-out batches, its cumulative average
// and the power-law fit a * x^b + c of the cumulative average (x the 1-based
// position, fitted at the bucket ends); written to out_dir and returned as
// JSON (the fit and the bucket table).
absl::StatusOr<train::Json> nll_by_position(models::Model& model, const train::RunData& data,
                                            const ByPositionOptions& options);

}  // namespace kiln::cli
