// Helpers for end-to-end tests: temporary run directories, configs, running
// the kiln binary, reading metrics.jsonl.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kiln/train/json_config.h"
#include "support/temp_dir.h"

namespace kiln::testing {

// A small, fast config: a ConvNet on learnable synthetic 8x8 images.
train::Json tiny_config(const std::filesystem::path& output_dir);
// Writes `config` to dir/name and returns the path.
std::string write_config(const std::filesystem::path& dir, const std::string& name,
                         const train::Json& config);

// step -> loss from a run's metrics.jsonl (training records only).
std::map<int64_t, double> read_losses(const std::filesystem::path& run_dir);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs the kiln binary with `args` and waits.
CommandResult run_kiln(const std::vector<std::string>& args);

}  // namespace kiln::testing
