// espeak-ng speech and the benchmark generator: two words come out different,
// audible and at 16 kHz; a small benchmark is deterministic, reruns skip what
// is there, and files that are not the generator's are never overwritten.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "kiln/data/audio.h"
#include "kiln/data/audio_bench.h"
#include "kiln/data/audio_manifest.h"
#include "kiln/data/speech_synth.h"
#include "support/temp_dir.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

class AudioBenchTest : public ::testing::Test {
 protected:
  std::string read(const std::string& name) const {
    std::ifstream in(fs::path(dir_) / name, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  kiln::testing::TempDir tmp_;
  std::string dir_ = tmp_.path().string();
};

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return std::sqrt(s / static_cast<double>(std::max<size_t>(x.size(), 1)));
}

TEST_F(AudioBenchTest, EspeakSpeaksTwoDifferentAudibleWordsAt16kHz) {
  if (!program_on_path("espeak-ng")) GTEST_SKIP() << "espeak-ng is not on PATH";
  absl::StatusOr<Waveform> yes = speak("yes", {.voice = "en+m3"}, 16000, dir_);
  absl::StatusOr<Waveform> seven = speak("seven", {.voice = "en+m3"}, 16000, dir_);
  ASSERT_TRUE(yes.ok()) << yes.status();
  ASSERT_TRUE(seven.ok()) << seven.status();
  EXPECT_EQ(yes->sample_rate, 16000);
  EXPECT_GT(yes->samples.size(0), 16000 / 10);
  EXPECT_GT(rms(to_float_vector(yes->samples)), 0.01);
  EXPECT_GT(rms(to_float_vector(seven->samples)), 0.01);
  EXPECT_NE(to_float_vector(yes->samples), to_float_vector(seven->samples));
  // The same call gives the same audio; the temporary WAVs are gone.
  absl::StatusOr<Waveform> again = speak("yes", {.voice = "en+m3"}, 16000, dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(to_float_vector(again->samples), to_float_vector(yes->samples));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(AudioBenchTest, MissingSpeechProgramIsAClearError) {
  absl::StatusOr<Waveform> w = speak("yes", {.program = "no-such-espeak"}, 16000, dir_);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(w.status().message().find("no-such-espeak not found"), std::string::npos);
  AudioBenchOptions o{.out_dir = dir_, .espeak = "no-such-espeak"};
  EXPECT_EQ(generate_audio_bench(o).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AudioBenchTest, SmallBenchIsBalancedIdempotentAndNeverOverwrites) {
  AudioBenchOptions o;
  o.out_dir = dir_;
  o.per_class = 4;
  o.pool_per_domain = 2;
  o.domains = {"environment"};
  absl::StatusOr<AudioBenchReport> first = generate_audio_bench(o);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->written, 4 * 5 * 4 + 2);  // types x counts x reps, plus the pool
  ASSERT_EQ(first->tasks.size(), 2u);
  for (const AudioBenchTask& task : first->tasks) {
    for (const auto& [label, counts] : task.counts) {
      EXPECT_GE(counts.first + counts.second, 4) << task.name << " " << label;
      EXPECT_EQ(counts.first, 3 * counts.second) << task.name << " " << label;
    }
  }
  absl::StatusOr<AudioManifest> m = read_audio_manifest(dir_ + "/environment_count.csv");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->classes, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  absl::StatusOr<Waveform> w = read_audio(m->rows[0].path);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->sample_rate, 16000);
  EXPECT_EQ(w->samples.size(0), 16000);

  // A rerun writes nothing and leaves the files as they were.
  const std::string manifest = read("environment_event.csv");
  const std::string clip = read("environment/00007.wav");
  absl::StatusOr<AudioBenchReport> second = generate_audio_bench(o);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->written, 0);
  EXPECT_EQ(second->skipped, first->written);
  EXPECT_EQ(read("environment_event.csv"), manifest);

  // A lost clip is regenerated bit for bit.
  fs::remove(fs::path(dir_) / "environment/00007.wav");
  absl::StatusOr<AudioBenchReport> third = generate_audio_bench(o);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->written, 1);
  EXPECT_EQ(read("environment/00007.wav"), clip);

  // Another seed finds files that are not its own: an error, nothing touched.
  o.seed = 1;
  absl::StatusOr<AudioBenchReport> other = generate_audio_bench(o);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(other.status().message().find("not overwriting"), std::string::npos);
  EXPECT_EQ(read("environment/00007.wav"), clip);
  // So does a foreign file in the clip's place.
  o.seed = 0;
  std::ofstream(fs::path(dir_) / "environment/00003.wav") << "not a wav";
  EXPECT_EQ(generate_audio_bench(o).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(read("environment/00003.wav"), "not a wav");
}

}  // namespace
}  // namespace kiln::data
