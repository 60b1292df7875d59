// Note, chord and event synthesis. Computed in double, returned as f32.
#include "kiln/data/audio_synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "kiln/core/error.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;
constexpr uint64_t kChordTag = 0x43484f5244ull;  // "CHORD"
constexpr uint64_t kEventTag = 0x4556454e54ull;  // "EVENT"

// n uniform samples in [-1, 1) under Philox key `key`.
std::vector<double> noise(uint64_t key, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  kernels::random_uniform(key, 0, out.data(), n, -1.0, 1.0);
  return out;
}

Tensor to_tensor_peak1(const std::vector<double>& x) {
  double peak = 0.0;
  for (double v : x) peak = std::max(peak, std::abs(v));
  const double scale = peak > 0 ? 1.0 / peak : 0.0;
  Tensor out = Tensor::empty({static_cast<int64_t>(x.size())}, DType::kF32);
  float* dst = out.data<float>();
  for (size_t i = 0; i < x.size(); ++i) dst[i] = static_cast<float>(x[i] * scale);
  return out;
}

double adsr(int64_t n, int64_t length, double sr, const ToneOptions& o) {
  const double t = static_cast<double>(n) / sr;
  const double remaining = static_cast<double>(length - n) / sr;
  double level = o.sustain;
  if (t < o.attack_s) {
    level = t / o.attack_s;
  } else if (t < o.attack_s + o.decay_s) {
    level = 1.0 - (1.0 - o.sustain) * (t - o.attack_s) / o.decay_s;
  }
  if (remaining < o.release_s) level *= remaining / o.release_s;
  return level;
}

// Sum of partials (frequency ratio, amplitude, decay per second) of `hz`.
struct Partial {
  double ratio, amplitude, decay;
};
std::vector<double> additive(double hz, const std::vector<Partial>& partials, double sr,
                             int64_t length) {
  std::vector<double> x(static_cast<size_t>(length), 0.0);
  for (const Partial& p : partials) {
    const double f = hz * p.ratio;
    if (f >= 0.45 * sr) continue;
    for (int64_t n = 0; n < length; ++n) {
      const double t = static_cast<double>(n) / sr;
      x[static_cast<size_t>(n)] += p.amplitude * std::exp(-p.decay * t) * std::sin(kTwoPi * f * t);
    }
  }
  return x;
}

// Karplus-Strong: y[n] = AP(rho (y[n-N] + y[n-N-1]) / 2), a loop delay of
// N + 1/2 + delta samples, the fractional delta in [0.1, 1.1) made by a
// first-order all-pass, so the pitch is sr / (N + 1/2 + delta) exactly at low
// frequencies rather than rounded to a whole sample.
std::vector<double> karplus_strong(double hz, double sr, int64_t length, uint64_t key) {
  const double period = sr / hz;
  const auto n_delay = static_cast<int64_t>(std::floor(period - 0.6));
  const double delta = period - 0.5 - static_cast<double>(n_delay);
  const double c = (1.0 - delta) / (1.0 + delta);
  // Lose about 60 dB in 2 s at the fundamental.
  const double rho = std::pow(10.0, -3.0 / (2.0 * hz));
  std::vector<double> y(static_cast<size_t>(std::max(length, n_delay + 1)), 0.0);
  // Excitation, one loop long: a triangle (the string's shape when plucked
  // at 0.3 of its length; harmonic k at sin(0.3 k pi) / k^2, so the
  // fundamental leads) plus noise, the Karplus-Strong character.
  const std::vector<double> burst = noise(key, n_delay + 1);
  const auto span = static_cast<double>(n_delay + 1), apex = 0.3 * span;
  for (size_t i = 0; i < burst.size(); ++i) {
    const auto x = static_cast<double>(i) + 0.5;
    y[i] = (x < apex ? x / apex : (span - x) / (span - apex)) + 0.3 * burst[i];
  }
  double mean = 0.0;
  for (size_t i = 0; i < burst.size(); ++i) mean += y[i] / span;
  for (size_t i = 0; i < burst.size(); ++i) y[i] -= mean;
  double ap_in = 0.0, ap_out = 0.0;
  for (size_t n = burst.size(); n < y.size(); ++n) {
    const double in = rho * 0.5 * (y[n - n_delay] + y[n - n_delay - 1]);
    ap_out = c * in + ap_in - c * ap_out;
    ap_in = in;
    y[n] = ap_out;
  }
  // The loop keeps any DC the excitation had: block it (a 10 Hz high-pass).
  const double pole = 1.0 - kTwoPi * 10.0 / sr;
  double prev_in = 0.0, prev_out = 0.0;
  for (double& v : y) {
    const double out = v - prev_in + pole * prev_out;
    prev_in = v;
    v = prev_out = out;
  }
  y.resize(static_cast<size_t>(length));
  return y;
}

std::vector<double> note_samples(double hz, Timbre timbre, const ToneOptions& o) {
  const auto sr = static_cast<double>(o.sample_rate);
  KILN_CHECK(o.sample_rate > 0 && o.num_samples >= 0, "synth_note: bad sample rate ", o.sample_rate,
             " or length ", o.num_samples);
  KILN_CHECK(hz > 0 && hz < sr / 4, "synth_note: frequency ", hz, " Hz outside (0, ", sr / 4, ")");
  const int64_t length = o.num_samples;
  std::vector<Partial> partials;
  switch (timbre) {
    case Timbre::kPlucked:
      return karplus_strong(hz, sr, length, o.noise_key);
    case Timbre::kBell:
      return additive(hz, {{1.0, 1.0, 2.0}, {2.76, 0.6, 4.0}, {5.40, 0.4, 7.0}, {8.93, 0.25, 10.0}},
                      sr, length);
    case Timbre::kSine:
      partials = {{1.0, 1.0, 0.0}};
      break;
    case Timbre::kSquare:
      for (int k = 1; k * hz < 0.45 * sr; k += 2) partials.push_back({double(k), 1.0 / k, 0.0});
      break;
    case Timbre::kSawtooth:
      for (int k = 1; k * hz < 0.45 * sr; ++k) partials.push_back({double(k), 1.0 / k, 0.0});
      break;
  }
  std::vector<double> x = additive(hz, partials, sr, length);
  for (int64_t n = 0; n < length; ++n) x[static_cast<size_t>(n)] *= adsr(n, length, sr, o);
  return x;
}

}  // namespace

const char* timbre_name(Timbre timbre) {
  switch (timbre) {
    case Timbre::kSine:
      return "sine";
    case Timbre::kSquare:
      return "square";
    case Timbre::kSawtooth:
      return "sawtooth";
    case Timbre::kPlucked:
      return "plucked";
    case Timbre::kBell:
      return "bell";
  }
  return "?";
}

double midi_to_hz(double midi) { return 440.0 * std::pow(2.0, (midi - 69.0) / 12.0); }

Tensor synth_note(double hz, Timbre timbre, const ToneOptions& options) {
  return to_tensor_peak1(note_samples(hz, timbre, options));
}

Tensor synth_chord(const std::vector<double>& hz, Timbre timbre, const ToneOptions& options) {
  KILN_CHECK(!hz.empty(), "synth_chord: no notes");
  std::vector<double> sum(static_cast<size_t>(options.num_samples), 0.0);
  for (size_t i = 0; i < hz.size(); ++i) {
    ToneOptions o = options;
    o.noise_key = detail::derive_key(options.noise_key ^ kChordTag, i);
    const std::vector<double> x = note_samples(hz[i], timbre, o);
    double peak = 0.0;
    for (double v : x) peak = std::max(peak, std::abs(v));
    for (size_t n = 0; n < x.size(); ++n) sum[n] += peak > 0 ? x[n] / peak : 0.0;
  }
  return to_tensor_peak1(sum);
}

const char* event_name(EventType type) {
  switch (type) {
    case EventType::kClick:
      return "click";
    case EventType::kChirp:
      return "chirp";
    case EventType::kNoiseBurst:
      return "noise_burst";
    case EventType::kKnock:
      return "knock";
  }
  return "?";
}

Tensor synth_event(EventType type, int64_t sample_rate, Generator& gen) {
  KILN_CHECK(sample_rate >= 8000, "synth_event: sample rate ", sample_rate, " below 8000 Hz");
  const auto sr = static_cast<double>(sample_rate);
  const uint64_t key = detail::derive_key(gen.seed() ^ kEventTag, gen.reserve(1));
  const double a = detail::draw_uniform(gen, 0.0, 1.0), b = detail::draw_uniform(gen, 0.0, 1.0);
  std::vector<double> x;
  auto length = [&](double seconds) { return static_cast<int64_t>(std::round(seconds * sr)); };
  switch (type) {
    case EventType::kClick: {
      x = noise(key, length(0.008));
      for (size_t n = 0; n < x.size(); ++n)
        x[n] *= std::exp(-static_cast<double>(n) / (0.0015 * sr));
      break;
    }
    case EventType::kChirp: {
      // Exponential sweep, up or down, between [400, 800] and [2000, 4000] Hz.
      const int64_t len = length(0.05 + 0.05 * a);
      const double lo = 400.0 * std::pow(2.0, a), hi = 4000.0 / std::pow(2.0, b);
      const bool up = detail::draw_uniform(gen, 0.0, 1.0) < 0.5;
      const double f0 = up ? lo : hi, f1 = up ? hi : lo;
      const double dur = static_cast<double>(len) / sr, k = std::log(f1 / f0) / dur;
      x.resize(static_cast<size_t>(len));
      for (int64_t n = 0; n < len; ++n) {
        const double t = static_cast<double>(n) / sr;
        const double phase = kTwoPi * f0 * (std::exp(k * t) - 1.0) / k;
        const double w = 0.5 - 0.5 * std::cos(kTwoPi * static_cast<double>(n) / double(len - 1));
        x[static_cast<size_t>(n)] = w * std::sin(phase);
      }
      break;
    }
    case EventType::kNoiseBurst: {
      const int64_t len = length(0.04 + 0.06 * a), ramp = length(0.005);
      x = noise(key, len);
      // A two-tap smoother: the burst's energy sits below about 5 kHz.
      for (int64_t n = len - 1; n > 0; --n) x[size_t(n)] = 0.5 * (x[size_t(n)] + x[size_t(n - 1)]);
      for (int64_t n = 0; n < len; ++n) {
        const double ramp_gain =
            std::min({1.0, double(n) / double(ramp), double(len - 1 - n) / double(ramp)});
        x[static_cast<size_t>(n)] *= ramp_gain;
      }
      break;
    }
    case EventType::kKnock: {
      const int64_t len = length(0.08);
      const double f = 120.0 + 280.0 * a, tau = 0.012 + 0.008 * b;
      x.resize(static_cast<size_t>(len));
      for (int64_t n = 0; n < len; ++n) {
        const double t = static_cast<double>(n) / sr;
        const double attack = std::min(1.0, t / 0.001);
        x[static_cast<size_t>(n)] = attack * std::exp(-t / tau) * std::sin(kTwoPi * f * t);
      }
      break;
    }
  }
  return to_tensor_peak1(x);
}

EventClip synth_event_clip(EventType type, const EventClipOptions& o, Generator& gen) {
  const auto sr = static_cast<double>(o.sample_rate);
  const int64_t t = o.num_samples;
  KILN_CHECK(o.count >= 1, "synth_event_clip: count must be >= 1, got ", o.count);
  KILN_CHECK(o.min_gap_s > kMaxEventSeconds, "synth_event_clip: min_gap_s ", o.min_gap_s,
             " must exceed the longest event, ", kMaxEventSeconds, " s");
  const double first = o.margin_s;
  const double last_allowed = static_cast<double>(t) / sr - o.margin_s - kMaxEventSeconds;
  const double slack = last_allowed - first - static_cast<double>(o.count - 1) * o.min_gap_s;
  KILN_CHECK(slack >= 0, "synth_event_clip: ", o.count, " events ", o.min_gap_s,
             " s apart do not fit in ", static_cast<double>(t) / sr, " s");
  // Regular: one random gap added to every spacing and a random start;
  // irregular: the slack shared out by random weights before the first onset
  // and between onsets (the rest after the last).
  std::vector<double> onsets(static_cast<size_t>(o.count));
  if (o.regular) {
    const double gap =
        o.count > 1 ? detail::draw_uniform(gen, 0.0, slack / double(o.count - 1)) : 0.0;
    const double start = first + detail::draw_uniform(gen, 0.0, slack - gap * double(o.count - 1));
    for (int64_t i = 0; i < o.count; ++i)
      onsets[size_t(i)] = start + double(i) * (o.min_gap_s + gap);
  } else {
    std::vector<double> weight(static_cast<size_t>(o.count + 1));
    double total = 0.0;
    for (double& w : weight) total += (w = detail::draw_uniform(gen, 0.05, 1.0));
    double onset = first;
    for (int64_t i = 0; i < o.count; ++i) {
      onset += (i > 0 ? o.min_gap_s : 0.0) + weight[size_t(i)] / total * slack;
      onsets[size_t(i)] = onset;
    }
  }
  EventClip clip;
  for (double onset : onsets) clip.onsets.push_back(static_cast<int64_t>(std::round(onset * sr)));
  // Brown-ish background: white noise through a one-pole low-pass.
  std::vector<double> x = noise(detail::derive_key(gen.seed() ^ kEventTag, gen.reserve(1)), t);
  double s = 0.0, power = 0.0;
  for (double& v : x) {
    v = s = 0.95 * s + 0.05 * v;
    power += v * v;
  }
  const double rms = std::sqrt(power / static_cast<double>(std::max<int64_t>(t, 1)));
  const double bg = rms > 0 ? std::pow(10.0, o.background_db / 20.0) / rms : 0.0;
  for (double& v : x) v *= bg;
  for (int64_t start : clip.onsets) {
    const double gain = std::pow(10.0, detail::draw_uniform(gen, o.min_event_db, 0.0) / 20.0);
    const Tensor event = synth_event(type, o.sample_rate, gen);  // (L)
    const float* e = event.data<float>();
    for (int64_t n = 0; n < event.size(0) && start + n < t; ++n) {
      x[static_cast<size_t>(start + n)] += gain * e[n];
    }
  }
  clip.samples = Tensor::empty({t}, DType::kF32);
  float* dst = clip.samples.data<float>();
  for (int64_t n = 0; n < t; ++n) dst[n] = static_cast<float>(x[static_cast<size_t>(n)]);
  return clip;
}

}  // namespace kiln::data
