#include <chrono>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "kiln/data/audio_bench.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln audio-bench generate --out DIR [--per-class N] [--pool N] [--seed S]\n"
    "                                 [--seconds X] [--domains speech,music,environment]\n"
    "\n"
    "Generates a small HARES-like audio benchmark (include/kiln/data/audio_bench.h):\n"
    "speech words spoken by espeak-ng in eight voices (tasks speech_word,\n"
    "speech_speaker), synthesised notes and chords (music_pitch, music_timbre) and\n"
    "counted event sounds over noise (environment_event, environment_count), as\n"
    "16 kHz mono WAVs under DIR with a manifest per task (DIR/<task>.csv: path,\n"
    "label, split) and an unlabelled pool for pre-training (DIR/pool.csv).\n"
    "\n"
    "  --per-class N  at least N clips per class of every task (default 40)\n"
    "  --pool N       unlabelled clips per domain (default 200)\n"
    "  --seed S       everything is a function of the seed (default 0)\n"
    "  --seconds X    clip length (default 1.0, at least 0.8)\n"
    "  --domains L    a comma-separated subset of speech, music, environment\n"
    "\n"
    "A rerun skips clips already there and matching; it never overwrites or\n"
    "deletes a file that does not match (another seed, another program's file).\n"
    "Needs espeak-ng on PATH (scripts/setup.sh installs it).\n";
}  // namespace

int audio_bench_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args = parse_command(
      argv, kHelp, {"out", "per-class", "pool", "seed", "seconds", "domains"}, {}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1 || args->positional[0] != "generate" || !args->option("out"))
    return usage(kHelp);
  data::AudioBenchOptions o;
  o.out_dir = *args->option("out");
  const std::optional<int64_t> per_class = parse_int(args->option("per-class"), o.per_class);
  const std::optional<int64_t> pool = parse_int(args->option("pool"), o.pool_per_domain);
  const std::optional<int64_t> seed = parse_int(args->option("seed"), 0);
  if (!per_class || *per_class < 1) return fail("--per-class needs a positive integer");
  if (!pool || *pool < 0) return fail("--pool needs a non-negative integer");
  if (!seed || *seed < 0) return fail("--seed needs a non-negative integer");
  o.per_class = *per_class;
  o.pool_per_domain = *pool;
  o.seed = static_cast<uint64_t>(*seed);
  if (std::optional<std::string> seconds = args->option("seconds")) {
    const std::optional<std::vector<double>> x = parse_numbers(*seconds);
    if (!x || x->size() != 1) return fail("--seconds needs a number");
    o.clip_seconds = (*x)[0];
  }
  if (std::optional<std::string> domains = args->option("domains")) {
    o.domains = absl::StrSplit(*domains, ',', absl::SkipEmpty());
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<data::AudioBenchReport> report = data::generate_audio_bench(
      o, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  if (!report.ok()) return fail(std::string(report.status().message()));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %lld clips written, %lld already there, %.1f MB, %.1f s\n", o.out_dir.c_str(),
              static_cast<long long>(report->written), static_cast<long long>(report->skipped),
              static_cast<double>(report->bytes) / 1e6, seconds);
  for (const data::AudioBenchTask& task : report->tasks) {
    std::string classes;
    int64_t train = 0, test = 0;
    for (const auto& [name, counts] : task.counts) {
      classes += absl::StrFormat(" %s:%d/%d", name, counts.first, counts.second);
      train += counts.first;
      test += counts.second;
    }
    std::printf("  %-18s %2zu classes, %4lld train, %4lld test;%s\n", task.name.c_str(),
                task.counts.size(), static_cast<long long>(train), static_cast<long long>(test),
                classes.c_str());
  }
  std::printf("  %-18s %lld unlabelled clips\n", "pool",
              static_cast<long long>(report->pool_clips));
  return 0;
}

}  // namespace kiln::cli
