// Synthesised sounds for the generated audio benchmark (audio_bench.h), in
// the spirit of HARES' music and environment domains (papers.md section 5):
// notes and chords with instrument-like timbres, and event sounds (clicks,
// chirps, noise bursts, knocks) in counted, rhythmic sequences over
// background noise. Every function is a pure function of its arguments: the
// random ones draw from the Philox generator or key they are given.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

enum class Timbre {
  kSine,      // the fundamental alone, ADSR envelope
  kSquare,    // odd harmonics at 1/k, ADSR
  kSawtooth,  // all harmonics at 1/k, ADSR
  kPlucked,   // Karplus-Strong string plucked (triangle plus noise), all-pass tuned
  kBell,      // inharmonic partials (1, 2.76, 5.40, 8.93), exponential decay
};
inline constexpr int kNumTimbres = 5;
const char* timbre_name(Timbre timbre);

// Hz of MIDI note `midi` in equal temperament, A4 = 69 = 440 Hz.
double midi_to_hz(double midi);

struct ToneOptions {
  int64_t sample_rate = 16000;  // Hz
  int64_t num_samples = 16000;  // the note's length, release included
  double attack_s = 0.01;       // ADSR timbres: linear attack,
  double decay_s = 0.08;        // decay to
  double sustain = 0.7;         // this level,
  double release_s = 0.1;       // linear release at the end
  uint64_t noise_key = 0;       // Philox key of the plucked string's excitation
};

// One note at `hz`: (T) f32, T = num_samples, peak |x| = 1. Harmonic timbres
// are additive and band-limited (partials above 0.45 sample_rate dropped), so
// nothing aliases. Throws kiln::Error for hz outside (0, sample_rate / 4).
Tensor synth_note(double hz, Timbre timbre, const ToneOptions& options);

// The notes at `hz` summed, then scaled to peak 1: (T) f32. Each note's
// plucked excitation has its own key derived from options.noise_key.
Tensor synth_chord(const std::vector<double>& hz, Timbre timbre, const ToneOptions& options);

enum class EventType {
  kClick,       // 8 ms of exponentially decaying noise (1.5 ms time constant)
  kChirp,       // 50-100 ms Hann-windowed sine sweep between 400 and 4000 Hz
  kNoiseBurst,  // 40-100 ms of band-limited noise, 5 ms ramps
  kKnock,       // 80 ms damped sinusoid at 120-400 Hz
};
inline constexpr int kNumEventTypes = 4;
const char* event_name(EventType type);
// The longest event, in seconds.
inline constexpr double kMaxEventSeconds = 0.1;

// One event sound: (L) f32, peak 1, its random parameters (chirp range and
// direction, lengths, knock frequency, noise) drawn from `gen`.
Tensor synth_event(EventType type, int64_t sample_rate, Generator& gen);

struct EventClipOptions {
  int64_t sample_rate = 16000;
  int64_t num_samples = 16000;
  int64_t count = 1;           // events in the clip
  bool regular = true;         // evenly spaced onsets, else random gaps
  double min_gap_s = 0.15;     // between onsets (> kMaxEventSeconds)
  double margin_s = 0.03;      // before the first onset and after the last event
  double background_db = -35;  // RMS of the background noise (events peak at 0 dB)
  double min_event_db = -6;    // each event's gain is uniform in [min_event_db, 0]
};

struct EventClip {
  Tensor samples;               // (T) f32
  std::vector<int64_t> onsets;  // sample of each event's start, ascending
};

// `count` events of one type at onsets spaced at least min_gap_s apart
// (regularly or not), over brown-ish background noise. Throws kiln::Error if
// the events cannot fit in the clip.
EventClip synth_event_clip(EventType type, const EventClipOptions& options, Generator& gen);

}  // namespace kiln::data
