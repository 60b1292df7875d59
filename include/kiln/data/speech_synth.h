// Spoken words from espeak-ng, for the generated audio benchmark's speech
// domain (audio_bench.h). espeak-ng runs as a subprocess (no shell) writing a
// WAV, which is read back and resampled with kiln's resampler.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "kiln/data/audio.h"

namespace kiln::data {

struct SpeakOptions {
  std::string voice = "en";  // espeak-ng -v: a language, optionally +variant ("en-us+f2")
  int64_t speed = 175;       // -s: words per minute, 80..450
  int64_t pitch = 50;        // -p: 0..99
  std::string program = "espeak-ng";
};

// Whether `program` names an executable file, directly or on PATH.
bool program_on_path(const std::string& program);

// `text` spoken with `options`, resampled to `sample_rate`: (T) f32. The
// temporary WAV goes in `scratch_dir` and is removed. NotFound when the
// program is missing (naming the package that provides it), Internal when it
// fails or writes no audio.
absl::StatusOr<Waveform> speak(const std::string& text, const SpeakOptions& options,
                               int64_t sample_rate, const std::string& scratch_dir);

}  // namespace kiln::data
