// A small audio benchmark in the spirit of HARES (papers.md section 5),
// generated on the machine: three domains, two labelled tasks each, and an
// unlabelled pool for self-supervised pre-training.
//
// - speech: the words of kBenchWords spoken by espeak-ng in the voices of
//   kBenchVoices at random speeds and pitches; tasks speech_word and
//   speech_speaker (the voice), over the same clips.
// - music: notes (pitch classes C..B over three octaves, MIDI 48-83) and
//   major / minor triads in five timbres (audio_synth.h); tasks music_pitch
//   (the pitch class of single notes) and music_timbre (notes and chords).
// - environment: 1-5 events of one type (click, chirp, noise burst, knock),
//   evenly or unevenly spaced, over background noise; tasks
//   environment_event and environment_count.
//
// Layout under the output directory: WAVs (16 kHz mono 16-bit) in speech/,
// music/, environment/ and pool/, and one manifest per task, <task>.csv,
// plus pool.csv (audio_manifest.h describes the format). Every clip has the
// same length, at a random offset and a random level (-12 to -1 dBFS peak).
// One clip in four of each class is in the test split.
//
// Everything is a function of the seed. Each WAV carries a description of
// what it holds (its comment string); a rerun skips a clip whose file
// matches, and refuses to overwrite a file that does not (a different seed,
// another program's file), as it does a manifest with other contents.
// Writes are atomic (temporary name, then rename); nothing is ever deleted.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln::data {

inline constexpr int64_t kBenchSampleRate = 16000;

// Speech: Speech Commands' digits and ten of its command words.
inline constexpr const char* kBenchWords[] = {
    "zero", "one", "two", "three", "four", "five",  "six", "seven", "eight", "nine",
    "yes",  "no",  "up",  "down",  "left", "right", "on",  "off",   "stop",  "go"};
// Speakers: espeak-ng voices with variants.
inline constexpr const char* kBenchVoices[] = {
    "en+m1",        "en+m3", "en+f2", "en+f4", "en-us+m2", "en-us+f1", "en-gb-scotland+m4",
    "en-gb-x-rp+f3"};

struct AudioBenchOptions {
  std::string out_dir;
  int64_t per_class = 40;  // at least this many clips per class of every task
  uint64_t seed = 0;
  int64_t pool_per_domain = 200;  // unlabelled clips per domain
  double clip_seconds = 1.0;
  std::string espeak = "espeak-ng";
  // Subsets for quick runs and tests: the domains generated (pool included),
  // and the speech domain's words and voices.
  std::vector<std::string> domains = {"speech", "music", "environment"};
  std::vector<std::string> words = {std::begin(kBenchWords), std::end(kBenchWords)};
  std::vector<std::string> voices = {std::begin(kBenchVoices), std::end(kBenchVoices)};
};

struct AudioBenchTask {
  std::string name;  // "speech_word", ...; its manifest is <name>.csv
  // Class name -> (train, test) clips.
  std::map<std::string, std::pair<int64_t, int64_t>> counts;
};

struct AudioBenchReport {
  int64_t written = 0;  // clips generated now
  int64_t skipped = 0;  // clips already there and matching
  int64_t bytes = 0;    // of all the benchmark's WAVs
  std::vector<AudioBenchTask> tasks;
  int64_t pool_clips = 0;
};

// Generates (or completes) the benchmark under options.out_dir. `progress`,
// if set, receives a line now and then. Errors name the file: a clip or
// manifest that exists with other contents, espeak-ng missing or failing, a
// directory that cannot be written.
absl::StatusOr<AudioBenchReport> generate_audio_bench(
    const AudioBenchOptions& options,
    const std::function<void(const std::string&)>& progress = nullptr);

}  // namespace kiln::data
