#include "kiln/train/run_log.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/io/file.h"

namespace kiln::train {

absl::StatusOr<MetricsLog> MetricsLog::open(const std::string& path, int64_t truncate_after_step) {
  namespace fs = std::filesystem;
  if (truncate_after_step >= 0 && fs::exists(path)) {
    std::ifstream in(path);
    std::stringstream kept;
    std::string line;
    while (std::getline(in, line)) {
      absl::StatusOr<Json> record = parse_json(line, path);
      // Keep unparseable lines (never destroy what we do not understand),
      // drop records of steps that will be redone.
      if (record.ok() && record->is_object() && record->contains("step") &&
          (*record)["step"].is_number_integer() &&
          (*record)["step"].get<int64_t>() > truncate_after_step) {
        continue;
      }
      kept << line << "\n";
    }
    if (absl::Status s = io::write_file_atomic(path, kept.str()); !s.ok()) return s;
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return absl::InternalError(absl::StrCat(path, ": cannot open for append"));
  return MetricsLog(file, path);
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : file_(other.file_), path_(std::move(other.path_)) {
  other.file_ = nullptr;
}

MetricsLog::~MetricsLog() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status MetricsLog::write(const Json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    return absl::InternalError(absl::StrCat(path_, ": write failed"));
  }
  return absl::OkStatus();
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

ProgressBar::ProgressBar(std::FILE* out, bool interactive, int64_t first_step, int64_t total_steps)
    : out_(out),
      interactive_(interactive),
      first_step_(first_step),
      total_steps_(total_steps),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(int64_t step, double loss, double examples_per_second) {
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const bool last = step >= total_steps_;
  // A terminal is redrawn at most 10 times a second; plain output gets a line
  // every 10% of the run.
  if (interactive_) {
    if (!last && drawn_ && since_draw < 0.1) return;
  } else {
    const int64_t every = std::max<int64_t>(1, total_steps_ / 10);
    if (!last && step % every != 0) return;
  }
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double done = static_cast<double>(step - first_step_);
  const double eta = done > 0 ? elapsed / done * static_cast<double>(total_steps_ - step) : NAN;
  const double fraction = static_cast<double>(step) / static_cast<double>(total_steps_);
  std::string text = absl::StrFormat("step %d/%d  loss %.4f  %.1f ex/s  ETA %s", step, total_steps_,
                                     loss, examples_per_second, format_duration(eta));
  if (interactive_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    const std::string done_part(static_cast<size_t>(filled), '#');
    const std::string todo_part(static_cast<size_t>(kWidth - filled), '.');
    std::fprintf(out_, "\r\033[K[%s%s] %s", done_part.c_str(), todo_part.c_str(), text.c_str());
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::message(const std::string& text) {
  if (interactive_ && drawn_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::finish() {
  if (interactive_ && drawn_) std::fprintf(out_, "\n");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace kiln::train
