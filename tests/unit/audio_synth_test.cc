// Synthesised notes, chords and event clips: deterministic, tuned (a note's
// spectral peak is its fundamental, a chord holds its notes), and an event
// clip of N events shows N onsets in its energy envelope.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/audio_features.h"
#include "kiln/data/audio_synth.h"

namespace kiln::data {
namespace {

constexpr int64_t kRate = 16000;
constexpr int64_t kFft = 16384;  // ~1 Hz bins

// |DFT| of a (kFft) waveform under a Hann window: (kFft / 2 + 1).
std::vector<float> magnitude(const Tensor& x) {
  LogMelOptions o;
  o.frame_length = kFft;
  o.hop_length = kFft;
  o.n_fft = kFft;
  return to_float_vector(spectrogram(x, o));
}

double bin_hz(int64_t bin) { return static_cast<double>(bin) * kRate / kFft; }

int64_t peak_bin(const std::vector<float>& mag, int64_t lo = 1) {
  return std::max_element(mag.begin() + lo, mag.end()) - mag.begin();
}

ToneOptions tone(uint64_t key = 7) {
  ToneOptions o;
  o.num_samples = kFft;
  o.noise_key = key;
  return o;
}

TEST(AudioSynth, NotePeaksAtItsFundamentalForEveryTimbre) {
  for (int t = 0; t < kNumTimbres; ++t) {
    for (const double midi : {45.0, 64.0, 81.0}) {
      const double hz = midi_to_hz(midi);
      const Tensor note = synth_note(hz, static_cast<Timbre>(t), tone());  // (T)
      ASSERT_EQ(note.size(0), kFft);
      const double peak = bin_hz(peak_bin(magnitude(note)));
      // Well within a quarter of a semitone (1.5 %).
      EXPECT_NEAR(peak / hz, 1.0, 0.006)
          << timbre_name(static_cast<Timbre>(t)) << " at " << hz << " Hz peaks at " << peak;
    }
  }
}

TEST(AudioSynth, NotesAreDeterministicAndPeakNormalised) {
  const Tensor a = synth_note(220.0, Timbre::kPlucked, tone(1));
  EXPECT_EQ(to_float_vector(a), to_float_vector(synth_note(220.0, Timbre::kPlucked, tone(1))));
  EXPECT_NE(to_float_vector(a), to_float_vector(synth_note(220.0, Timbre::kPlucked, tone(2))));
  const std::vector<float> v = to_float_vector(synth_note(330.0, Timbre::kSawtooth, tone()));
  float peak = 0;
  for (float x : v) peak = std::max(peak, std::abs(x));
  EXPECT_NEAR(peak, 1.0f, 1e-6f);
  EXPECT_THROW(synth_note(5000.0, Timbre::kSine, tone()), Error);
}

TEST(AudioSynth, ChordHoldsItsNotes) {
  // A major triad on C4 (60, 64, 67).
  const std::vector<double> hz = {midi_to_hz(60), midi_to_hz(64), midi_to_hz(67)};
  for (const Timbre timbre : {Timbre::kSine, Timbre::kSawtooth, Timbre::kPlucked}) {
    const std::vector<float> mag = magnitude(synth_chord(hz, timbre, tone()));
    const float top = *std::max_element(mag.begin(), mag.end());
    for (const double f : hz) {
      // The strongest bin within 1 % of the note is a spectral peak of at
      // least a fifth of the largest.
      const auto lo = static_cast<int64_t>(f * 0.99 * kFft / kRate);
      const auto hi = static_cast<int64_t>(f * 1.01 * kFft / kRate) + 1;
      const float near = *std::max_element(mag.begin() + lo, mag.begin() + hi);
      EXPECT_GT(near, 0.2f * top) << timbre_name(timbre) << " chord at " << f << " Hz";
    }
    // Nothing strong below the root.
    const auto below = static_cast<int64_t>(hz[0] * 0.9 * kFft / kRate);
    EXPECT_LT(*std::max_element(mag.begin() + 5, mag.begin() + below), 0.05f * top);
  }
}

// Onsets in the energy envelope: 10 ms frames, a rising edge where the frame
// energy crosses 12 dB above the background's, re-armed after 3 frames below.
std::vector<int64_t> energy_onsets(const Tensor& x, double background_db) {
  const std::vector<float> v = to_float_vector(x);
  const int64_t frame = kRate / 100;
  std::vector<double> energy;
  for (size_t s = 0; s + frame <= v.size(); s += frame) {
    double e = 0;
    for (int64_t i = 0; i < frame; ++i) e += double(v[s + i]) * v[s + i];
    energy.push_back(10 * std::log10(e / frame + 1e-12));
  }
  const double threshold = background_db + 12.0;
  std::vector<int64_t> onsets;
  int64_t below = 3;
  for (size_t f = 0; f < energy.size(); ++f) {
    if (energy[f] >= threshold) {
      if (below >= 3) onsets.push_back(static_cast<int64_t>(f) * frame);
      below = 0;
    } else {
      ++below;
    }
  }
  return onsets;
}

TEST(AudioSynth, EventClipHasItsCountOfOnsets) {
  for (int type = 0; type < kNumEventTypes; ++type) {
    for (int64_t count = 1; count <= 5; ++count) {
      for (const bool regular : {true, false}) {
        EventClipOptions o;
        o.count = count;
        o.background_db = -40 - 5 * (count % 3);
        o.regular = regular;
        Generator gen(100 * type + 10 * count + regular);
        const EventClip clip = synth_event_clip(static_cast<EventType>(type), o, gen);
        ASSERT_EQ(clip.samples.size(0), o.num_samples);
        ASSERT_EQ(static_cast<int64_t>(clip.onsets.size()), count);
        const std::vector<int64_t> found = energy_onsets(clip.samples, o.background_db);
        ASSERT_EQ(static_cast<int64_t>(found.size()), count)
            << event_name(static_cast<EventType>(type)) << " x" << count
            << (regular ? " regular" : " irregular");
        for (int64_t i = 0; i < count; ++i) {
          EXPECT_NEAR(found[i], clip.onsets[i], kRate / 50);  // within 20 ms
          if (i > 0) {
            EXPECT_GE(clip.onsets[i] - clip.onsets[i - 1], 0.15 * kRate - 1);
          }
        }
        if (regular && count > 2) {
          EXPECT_NEAR(clip.onsets[2] - clip.onsets[1], clip.onsets[1] - clip.onsets[0], 1);
        }
      }
    }
  }
}

TEST(AudioSynth, EventClipsAreDeterministic) {
  EventClipOptions o;
  o.count = 3;
  Generator a(5), b(5), c(6);
  const EventClip x = synth_event_clip(EventType::kChirp, o, a);
  EXPECT_EQ(to_float_vector(x.samples),
            to_float_vector(synth_event_clip(EventType::kChirp, o, b).samples));
  EXPECT_NE(to_float_vector(x.samples),
            to_float_vector(synth_event_clip(EventType::kChirp, o, c).samples));
  o.count = 9;
  EXPECT_THROW(synth_event_clip(EventType::kClick, o, a), Error);
}

}  // namespace
}  // namespace kiln::data
