// Checkpoints: a directory per saved step holding safetensors files (one per
// group: model weights, optimizer state, EMA weights, ...) and manifest.json
// (step, generator and data state, schedule state, the resolved config, and
// the size of every file).
//
// Saving is atomic: the directory is written under a temporary name, every
// file fsynced, then renamed to step_NNNNNNNN, and only then is the LATEST
// pointer replaced (written to a temporary file and renamed). A crash at any
// moment leaves the previous checkpoint and pointer intact. The last K
// checkpoints are kept.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/nn/module.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

struct Checkpoint {
  int64_t step = 0;
  // Named tensor groups, each saved as <group>.safetensors.
  std::map<std::string, nn::NamedTensors> groups;
  // Everything else the run needs to continue exactly.
  Json state = Json::object();
};

class CheckpointManager {
 public:
  // `directory` is the run's checkpoints/ folder (created if missing).
  CheckpointManager(std::string directory, int64_t keep);

  absl::Status save(const Checkpoint& checkpoint);
  // The newest complete checkpoint (following LATEST, or the newest valid
  // step directory if LATEST is missing or broken). NotFound if none.
  absl::StatusOr<Checkpoint> load_latest() const;
  // A checkpoint directory given by path.
  static absl::StatusOr<Checkpoint> load(const std::string& checkpoint_dir);
  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
  int64_t keep_;
};

// Loads the weights of `group` ("model", "ema_model", ...) from `path` (a
// checkpoint step directory, or a checkpoints/ folder or run directory
// whose newest checkpoint is used) into `module`, strictly. Returns the
// checkpoint's step; errors name the path.
absl::StatusOr<int64_t> load_module_weights(nn::Module& module, const std::string& path,
                                            const std::string& group = "model");

}  // namespace kiln::train
