// The generated audio benchmark: clips are enumerated first (their random
// parameters drawn from a generator keyed by (seed, domain, index)), then
// rendered and written unless a matching file is already there.
#include "kiln/data/audio_bench.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/data/audio.h"
#include "kiln/data/audio_synth.h"
#include "kiln/data/speech_synth.h"
#include "kiln/io/file.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

// Bump when a clip's rendering changes: old files then no longer match.
constexpr char kVersion[] = "kiln audio-bench v1";
constexpr int64_t kTestEvery = 4;  // one clip in four of each class is test
constexpr const char* kPitchClasses[] = {"C",  "C#", "D",  "D#", "E",  "F",
                                         "F#", "G",  "G#", "A",  "A#", "B"};
constexpr uint64_t kSpeechTag = 0x535045454348ull, kMusicTag = 0x4d55534943ull,
                   kEnvTag = 0x454e56ull, kPoolTag = 0x504f4f4cull;

struct Clip {
  std::string path;                                // relative to the output directory
  std::string params;                              // what it holds, stored as the WAV's comment
  std::function<absl::StatusOr<Tensor>()> render;  // (T) f32 at 16 kHz, any level
};

struct Row {
  std::string path, label, split;
};

struct Bench {
  std::vector<Clip> clips;
  std::map<std::string, std::vector<Row>> tasks;  // task -> rows
  std::vector<Row> pool;                          // label: the domain
};

// `x` (L) placed at `offset` (a fraction of the free space) in a clip of
// `length` samples, cut with a 10 ms fade if longer, scaled to peak `level_db`.
Tensor place(const Tensor& x, int64_t length, double offset, double level_db) {
  const std::vector<float> src = to_float_vector(x);
  std::vector<float> out(static_cast<size_t>(length), 0.0f);
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(src.size()), length);
  const auto start = static_cast<int64_t>(offset * static_cast<double>(length - n));
  const int64_t fade = kBenchSampleRate / 100;
  float peak = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    float v = src[static_cast<size_t>(i)];
    if (n < static_cast<int64_t>(src.size()) && n - i < fade) v *= float(n - i) / float(fade);
    out[static_cast<size_t>(start + i)] = v;
    peak = std::max(peak, std::abs(v));
  }
  const float scale = peak > 0 ? static_cast<float>(std::pow(10.0, level_db / 20.0)) / peak : 0.f;
  for (float& v : out) v *= scale;
  return from_vector(out, {length});
}

// The span of `x` (T) louder than 40 dB below its peak, with 20 ms around.
Tensor trim_silence(const Tensor& x) {
  const std::vector<float> v = to_float_vector(x);
  float peak = 0.0f;
  for (float s : v) peak = std::max(peak, std::abs(s));
  const float threshold = 0.01f * peak;
  auto loud = [&](float s) { return std::abs(s) > threshold; };
  const auto first = std::find_if(v.begin(), v.end(), loud) - v.begin();
  const auto last = v.rend() - std::find_if(v.rbegin(), v.rend(), loud);
  if (first >= last) return x;
  const int64_t pad = kBenchSampleRate / 50;
  const int64_t lo = std::max<int64_t>(first - pad, 0);
  const int64_t hi = std::min<int64_t>(last + pad, static_cast<int64_t>(v.size()));
  return from_vector(std::vector<float>(v.begin() + lo, v.begin() + hi), {hi - lo});
}

std::string split_of(int64_t rep) { return rep % kTestEvery == kTestEvery - 1 ? "test" : "train"; }

// Reps per class: at least `per_class / classes_sharing`, a multiple of
// kTestEvery so the test share is exact.
int64_t reps_for(int64_t per_class, int64_t share) {
  const int64_t reps = (per_class + share - 1) / share;
  return (reps + kTestEvery - 1) / kTestEvery * kTestEvery;
}

struct SpeechDraw {
  std::string word, voice;
  int64_t speed, pitch;
  double offset, level_db;
};

Clip speech_clip(const std::string& path, const SpeechDraw& d, const AudioBenchOptions& o,
                 int64_t length) {
  const std::string params =
      absl::StrFormat("word=%s voice=%s speed=%d pitch=%d offset=%.4f level_db=%.2f", d.word,
                      d.voice, d.speed, d.pitch, d.offset, d.level_db);
  return {path, params, [d, program = o.espeak, length]() -> absl::StatusOr<Tensor> {
            const SpeakOptions so{
                .voice = d.voice, .speed = d.speed, .pitch = d.pitch, .program = program};
            absl::StatusOr<Waveform> w =
                speak(d.word, so, kBenchSampleRate, fs::temp_directory_path().string());
            if (!w.ok()) return w.status();
            return place(trim_silence(w->samples), length, d.offset, d.level_db);
          }};
}

SpeechDraw draw_speech(Generator& gen, const std::string& word, const std::string& voice) {
  return {word,
          voice,
          static_cast<int64_t>(std::lround(detail::draw_uniform(gen, 140, 200))),
          static_cast<int64_t>(std::lround(detail::draw_uniform(gen, 40, 60))),
          detail::draw_uniform(gen, 0, 1),
          detail::draw_uniform(gen, -12, -1)};
}

struct MusicDraw {
  std::vector<int64_t> midi;  // one note, or a triad from its root
  int64_t timbre;
  double start, duration, attack, level_db;  // seconds, dB
  uint64_t key;
};

MusicDraw draw_music(Generator& gen, int64_t pitch_class, int64_t timbre, int chord) {
  MusicDraw d;
  const int64_t root = 48 + 12 * detail::draw_below(gen, 3) + pitch_class;
  d.midi = {root};
  if (chord) d.midi = {root, root + (chord == 1 ? 4 : 3), root + 7};  // major, minor
  d.timbre = timbre;
  d.duration = detail::draw_uniform(gen, 0.6, 0.9);
  d.start = detail::draw_uniform(gen, 0, 1);
  d.attack = detail::draw_uniform(gen, 0.005, 0.03);
  d.level_db = detail::draw_uniform(gen, -12, -1);
  d.key = detail::derive_key(gen.seed(), gen.reserve(1));
  return d;
}

Clip music_clip(const std::string& path, const MusicDraw& d, int64_t length) {
  std::string notes;
  for (int64_t m : d.midi) absl::StrAppend(&notes, notes.empty() ? "" : ",", m);
  const std::string params = absl::StrFormat(
      "midi=%s timbre=%s start=%.4f duration=%.4f attack=%.4f level_db=%.2f key=%d", notes,
      timbre_name(static_cast<Timbre>(d.timbre)), d.start, d.duration, d.attack, d.level_db, d.key);
  return {path, params, [d, length]() -> absl::StatusOr<Tensor> {
            ToneOptions t;
            t.num_samples = static_cast<int64_t>(d.duration * static_cast<double>(length));
            t.attack_s = d.attack;
            t.noise_key = d.key;
            std::vector<double> hz;
            for (int64_t m : d.midi) hz.push_back(midi_to_hz(static_cast<double>(m)));
            return place(synth_chord(hz, static_cast<Timbre>(d.timbre), t), length, d.start,
                         d.level_db);
          }};
}

struct EnvDraw {
  int64_t type, count;
  bool regular;
  double background_db, level_db;
  uint64_t key;
};

EnvDraw draw_env(Generator& gen, int64_t type, int64_t count) {
  return {type,
          count,
          detail::draw_uniform(gen, 0, 1) < 0.5,
          detail::draw_uniform(gen, -55, -40),
          detail::draw_uniform(gen, -12, -1),
          detail::derive_key(gen.seed(), gen.reserve(1))};
}

Clip env_clip(const std::string& path, const EnvDraw& d, int64_t length) {
  const std::string params =
      absl::StrFormat("event=%s count=%d regular=%d background_db=%.2f level_db=%.2f key=%d",
                      event_name(static_cast<EventType>(d.type)), d.count, d.regular,
                      d.background_db, d.level_db, d.key);
  return {path, params, [d, length]() -> absl::StatusOr<Tensor> {
            EventClipOptions e;
            e.num_samples = length;
            e.count = d.count;
            e.regular = d.regular;
            e.background_db = d.background_db;
            Generator gen(d.key);
            const EventClip clip = synth_event_clip(static_cast<EventType>(d.type), e, gen);
            return place(clip.samples, length, 0.0, d.level_db);
          }};
}

std::string clip_name(const std::string& dir, int64_t i) {
  return absl::StrFormat("%s/%05d.wav", dir, i);
}

Bench enumerate(const AudioBenchOptions& o) {
  Bench b;
  const auto length =
      static_cast<int64_t>(std::lround(o.clip_seconds * static_cast<double>(kBenchSampleRate)));
  auto gen_for = [&](uint64_t tag, int64_t i) {
    return Generator(detail::derive_key(o.seed ^ tag, static_cast<uint64_t>(i)));
  };
  auto wants = [&](const char* domain) {
    return std::find(o.domains.begin(), o.domains.end(), domain) != o.domains.end();
  };
  // Speech: rep r of word w in voice (r + w) mod V, so every voice says every
  // word and the test reps hold every voice.
  const auto n_words = static_cast<int64_t>(o.words.size());
  const auto n_voices = static_cast<int64_t>(o.voices.size());
  const int64_t speech_reps = wants("speech") ? reps_for(o.per_class, 1) : 0;
  for (int64_t i = 0; i < n_words * speech_reps; ++i) {
    const int64_t w = i % n_words, r = i / n_words, v = (r + w) % n_voices;
    Generator gen = gen_for(kSpeechTag, i);
    const std::string path = clip_name("speech", i);
    b.clips.push_back(speech_clip(path, draw_speech(gen, o.words[w], o.voices[v]), o, length));
    b.tasks["speech_word"].push_back({path, o.words[w], split_of(r)});
    b.tasks["speech_speaker"].push_back({path, o.voices[v], split_of(r)});
  }
  // Music: notes over (pitch class, timbre) reps; then chords, timbre only.
  const int64_t note_reps = wants("music") ? reps_for(o.per_class, kNumTimbres) : 0;
  int64_t m = 0;
  for (int64_t i = 0; i < 12 * kNumTimbres * note_reps; ++i, ++m) {
    const int64_t pc = i % 12, t = (i / 12) % kNumTimbres, r = i / (12 * kNumTimbres);
    Generator gen = gen_for(kMusicTag, m);
    const std::string path = clip_name("music", m);
    b.clips.push_back(music_clip(path, draw_music(gen, pc, t, 0), length));
    b.tasks["music_pitch"].push_back({path, kPitchClasses[pc], split_of(r)});
    b.tasks["music_timbre"].push_back({path, timbre_name(static_cast<Timbre>(t)), split_of(r)});
  }
  // A quarter as many chords as notes per timbre, major then minor; the split
  // by (row + root) keeps roots and timbres balanced.
  const int64_t n_chords = 12 * kNumTimbres * note_reps / 4;
  for (int64_t i = 0; i < n_chords; ++i, ++m) {
    const int64_t t = (i / 12) % kNumTimbres;
    Generator gen = gen_for(kMusicTag, m);
    const std::string path = clip_name("music", m);
    const int chord = 2 * i < n_chords ? 1 : 2;
    b.clips.push_back(music_clip(path, draw_music(gen, i % 12, t, chord), length));
    b.tasks["music_timbre"].push_back(
        {path, timbre_name(static_cast<Timbre>(t)), split_of(i / 12 + i % 12)});
  }
  // Environment: (type, count) reps.
  const int64_t env_reps = wants("environment") ? reps_for(o.per_class, kNumEventTypes) : 0;
  for (int64_t i = 0; i < kNumEventTypes * 5 * env_reps; ++i) {
    const int64_t type = i % kNumEventTypes, count = 1 + (i / kNumEventTypes) % 5,
                  r = i / (5 * kNumEventTypes);
    Generator gen = gen_for(kEnvTag, i);
    const std::string path = clip_name("environment", i);
    b.clips.push_back(env_clip(path, draw_env(gen, type, count), length));
    b.tasks["environment_event"].push_back(
        {path, event_name(static_cast<EventType>(type)), split_of(r)});
    b.tasks["environment_count"].push_back({path, std::to_string(count), split_of(r)});
  }
  // The unlabelled pool: fresh clips of every domain in turn, classes drawn
  // at random.
  const auto n_domains = static_cast<int64_t>(o.domains.size());
  for (int64_t i = 0; i < n_domains * o.pool_per_domain; ++i) {
    Generator gen = gen_for(kPoolTag, i);
    const std::string path = clip_name("pool", i);
    const std::string split = i % 10 == 9 ? "test" : "train";
    const std::string& domain = o.domains[static_cast<size_t>(i % n_domains)];
    b.pool.push_back({path, domain, split});
    if (domain == "speech") {
      const int64_t w = detail::draw_below(gen, n_words), v = detail::draw_below(gen, n_voices);
      b.clips.push_back(speech_clip(path, draw_speech(gen, o.words[w], o.voices[v]), o, length));
    } else if (domain == "music") {
      const int64_t pc = detail::draw_below(gen, 12), t = detail::draw_below(gen, kNumTimbres);
      const auto chord = static_cast<int>(detail::draw_below(gen, 6));  // 1, 2: a triad
      b.clips.push_back(music_clip(path, draw_music(gen, pc, t, chord < 3 ? chord : 0), length));
    } else {
      const int64_t type = detail::draw_below(gen, kNumEventTypes);
      const int64_t count = 1 + detail::draw_below(gen, 5);
      b.clips.push_back(env_clip(path, draw_env(gen, type, count), length));
    }
  }
  return b;
}

// Writes `contents` to `path` unless it holds them already; refuses to
// replace different contents.
absl::Status write_manifest(const fs::path& path, const std::string& contents) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (old == contents) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat(path.string(),
                     ": exists with other contents (another seed or size?); not overwriting it: "
                     "generate into a new directory or move it away"));
  }
  return io::write_file_atomic(path.string(), contents);
}

std::string manifest_text(const std::vector<Row>& rows, const char* label_column) {
  std::string text = absl::StrCat("path,", label_column, ",split\n");
  for (const Row& r : rows) absl::StrAppend(&text, r.path, ",", r.label, ",", r.split, "\n");
  return text;
}

}  // namespace

absl::StatusOr<AudioBenchReport> generate_audio_bench(
    const AudioBenchOptions& o, const std::function<void(const std::string&)>& progress) {
  if (o.out_dir.empty()) return absl::InvalidArgumentError("audio bench: no output directory");
  if (o.per_class < 1 || o.pool_per_domain < 0 ||
      !(o.clip_seconds >= 0.8 && o.clip_seconds <= 10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audio bench: per_class (", o.per_class, ") must be >= 1, pool_per_domain (",
        o.pool_per_domain, ") >= 0 and clip_seconds (", o.clip_seconds, ") in [0.8, 10]"));
  }
  for (const std::string& d : o.domains) {
    if (d != "speech" && d != "music" && d != "environment") {
      return absl::InvalidArgumentError(
          absl::StrCat("audio bench: unknown domain \"", d, "\" (speech, music or environment)"));
    }
  }
  if (o.words.empty() || o.voices.empty()) {
    return absl::InvalidArgumentError("audio bench: no words or no voices for the speech domain");
  }
  const bool speech = std::find(o.domains.begin(), o.domains.end(), "speech") != o.domains.end();
  if (speech && !program_on_path(o.espeak)) {
    return absl::NotFoundError(absl::StrCat(o.espeak,
                                            " not found on PATH: the speech clips need it (Debian "
                                            "package espeak-ng; scripts/setup.sh installs it)"));
  }
  const fs::path root(o.out_dir);
  std::error_code ec;
  for (const char* dir : {"speech", "music", "environment", "pool"}) {
    fs::create_directories(root / dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat((root / dir).string(), ": cannot create: ", ec.message()));
    }
  }
  const Bench bench = enumerate(o);
  const auto length =
      static_cast<int64_t>(std::lround(o.clip_seconds * static_cast<double>(kBenchSampleRate)));
  AudioBenchReport report;
  for (size_t i = 0; i < bench.clips.size(); ++i) {
    const Clip& clip = bench.clips[i];
    const std::string path = (root / clip.path).string();
    const std::string comment = absl::StrCat(kVersion, " seed=", o.seed, " ", clip.params);
    if (fs::exists(path, ec)) {
      absl::StatusOr<std::string> old = read_audio_comment(path);
      absl::StatusOr<Waveform> audio = read_audio(path);
      if (!old.ok() || !audio.ok() || *old != comment || audio->sample_rate != kBenchSampleRate ||
          audio->samples.numel() != length) {
        return absl::AlreadyExistsError(
            absl::StrCat(path, ": exists but is not this clip (",
                         old.ok() ? "\"" + *old + "\"" : "unreadable", "; wanted \"", comment,
                         "\"); not overwriting it: generate into a new directory or "
                         "move it away"));
      }
      ++report.skipped;
    } else {
      absl::StatusOr<Tensor> samples = clip.render();
      if (!samples.ok()) return samples.status();
      if (absl::Status s = write_wav(path, {*samples, kBenchSampleRate}, comment); !s.ok())
        return s;
      ++report.written;
    }
    report.bytes += static_cast<int64_t>(fs::file_size(path, ec));
    if (progress && ((i + 1) % 250 == 0 || i + 1 == bench.clips.size())) {
      progress(absl::StrCat(i + 1, "/", bench.clips.size(), " clips (", report.written,
                            " written, ", report.skipped, " already there)"));
    }
  }
  for (const auto& [name, rows] : bench.tasks) {
    if (absl::Status s = write_manifest(root / (name + ".csv"), manifest_text(rows, "label"));
        !s.ok()) {
      return s;
    }
    AudioBenchTask task{name, {}};
    for (const Row& r : rows) {
      auto& [train, test] = task.counts[r.label];
      ++(r.split == "test" ? test : train);
    }
    report.tasks.push_back(std::move(task));
  }
  if (absl::Status s = write_manifest(root / "pool.csv", manifest_text(bench.pool, "domain"));
      !s.ok()) {
    return s;
  }
  report.pool_clips = static_cast<int64_t>(bench.pool.size());
  return report;
}

}  // namespace kiln::data
