// What a run shows and leaves behind: metrics.jsonl (one JSON object per
// logged step), and the console progress bar (a bar redrawn in place on a
// terminal, plain lines otherwise).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "kiln/train/json_config.h"

namespace kiln::train {

class MetricsLog {
 public:
  // Opens `path` for appending. With `truncate_after_step` >= 0, first drops
  // the records of steps after it (a resumed run redoes those steps), by
  // rewriting the file atomically.
  static absl::StatusOr<MetricsLog> open(const std::string& path, int64_t truncate_after_step);
  MetricsLog(MetricsLog&& other) noexcept;
  ~MetricsLog();

  absl::Status write(const Json& record);

 private:
  explicit MetricsLog(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_ = nullptr;
  std::string path_;
};

class ProgressBar {
 public:
  // Draws to `out`; `interactive` redraws one line in place.
  ProgressBar(std::FILE* out, bool interactive, int64_t first_step, int64_t total_steps);
  // Called after each step.
  void update(int64_t step, double loss, double examples_per_second);
  // Prints a message on its own line (keeping the bar below it).
  void message(const std::string& text);
  void finish();

 private:
  std::FILE* out_;
  bool interactive_;
  int64_t first_step_;
  int64_t total_steps_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

// "1h02m", "3m07s", "12s".
std::string format_duration(double seconds);

}  // namespace kiln::train
