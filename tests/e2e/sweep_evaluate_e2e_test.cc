// A sweep's "evaluate" section: every point's final weights are evaluated
// after training (the DGMR nowcast against the baselines; HARES linear
// evaluation), the scalars join the summary, the result is reused on a
// rerun, and a point with "train": false is evaluated at initialisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_format.h"
#include "kiln/data/audio_bench.h"
#include "kiln/train/sweep.h"
#include "tests/e2e/e2e_util.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

// Writes `ablation` to DIR/ablation.json and runs it without console output.
absl::StatusOr<train::Json> run_ablation(const fs::path& dir, const train::Json& ablation) {
  absl::StatusOr<train::SweepSpec> spec =
      train::load_sweep(write_config(dir, "ablation.json", ablation), {});
  if (!spec.ok()) return spec.status();
  train::SweepOptions options;
  options.console = std::fopen("/dev/null", "w");
  return train::run_sweep(*spec, options);
}

TEST(SweepEvaluateE2E, NowcastOfEachDgmrPointBesideTheBaselines) {
  TempDir dir;
  const train::Json base = train::Json::parse(R"({
    "model": {"name": "dgmr_small"},
    "task": {"name": "dgmr_gan", "gan_mode": "regulariser", "generator_samples": 2},
    "data": {"name": "radar_synthetic", "batch_size": 2, "num_examples": 8, "eval_fraction": 0.5,
             "radar": {"height": 32, "width": 32, "context_frames": 4, "lead_frames": 6}},
    "optimizer": {"name": "adam", "lr": 1e-4, "beta1": 0.0},
    "train": {"steps": 2, "threads": 1, "log_every": 1, "eval_every": 0, "checkpoint_every": 0}
  })");
  write_config(dir.path(), "base.json", base);
  const train::Json ablation = {
      {"base", "base.json"},
      {"points",
       {{{"name", "trained"}, {"set", train::Json::object()}},
        {{"name", "untrained"}, {"set", train::Json::object()}, {"train", false}}}},
      {"evaluate", {{"name", "nowcast"}, {"samples", 2}, {"png_members", 2}}},
      {"columns", {"dgmr_csi1_last", "persistence_csi1_last", "dgmr_spread_mean"}},
      {"output_dir", (dir.path() / "sweep").string()},
  };
  absl::StatusOr<train::Json> rows = run_ablation(dir.path(), ablation);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  const train::Json& trained = (*rows)[0]["summary"];
  const train::Json& untrained = (*rows)[1]["summary"];
  EXPECT_TRUE(trained.contains("final_train_loss"));  // training's summary is kept
  EXPECT_FALSE(untrained.contains("final_train_loss"));
  for (const char* key : {"dgmr_csi1_last", "dgmr_crps4_mean", "dgmr_psd2px", "advection_csi8_mean",
                          "persistence_spread_mean"}) {
    EXPECT_TRUE(trained.contains(key)) << key;
    EXPECT_TRUE(untrained.contains(key)) << key;
  }
  // Two latents give two different members; the baselines are deterministic.
  EXPECT_GT(trained["dgmr_spread_mean"].get<double>(), 0.0);
  EXPECT_EQ(trained["persistence_spread_mean"].get<double>(), 0.0);
  // The baselines do not depend on the point.
  EXPECT_EQ(trained["advection_csi1_last"], untrained["advection_csi1_last"]);
  // Trained and untrained generators differ.
  EXPECT_NE(trained["dgmr_crps1_mean"], untrained["dgmr_crps1_mean"]);
  for (const char* file : {"nowcast.json", "nowcast.txt", "nowcast.png", "evaluation.json"}) {
    EXPECT_TRUE(fs::exists(dir.path() / "sweep" / "trained" / file)) << file;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "sweep" / "untrained" / "checkpoints"));

  // A rerun reuses the evaluations.
  const fs::path saved = dir.path() / "sweep" / "trained" / "evaluation.json";
  const auto mtime = fs::last_write_time(saved);
  absl::StatusOr<train::Json> again = run_ablation(dir.path(), ablation);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(fs::last_write_time(saved), mtime);
  EXPECT_EQ((*again)[0]["summary"], trained);

  // kiln nowcast scores the same run from the command line.
  CommandResult cli = run_kiln(
      {"nowcast", (dir.path() / "sweep" / "trained" / "config.json").string(), "--checkpoint",
       "reg=" + (dir.path() / "sweep" / "trained").string(), "--samples", "2"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("\"name\":\"reg\""), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find("Ensemble spread"), std::string::npos) << cli.output;
  CommandResult missing =
      run_kiln({"nowcast", (dir.path() / "sweep" / "trained" / "config.json").string(),
                "--checkpoint", (dir.path() / "nowhere").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("nowhere"), std::string::npos) << missing.output;
}

TEST(SweepEvaluateE2E, LinearEvaluationOfPretrainedAndRandomEncoders) {
  TempDir dir;
  data::AudioBenchOptions bench;
  bench.out_dir = (dir.path() / "bench").string();
  bench.per_class = 4;
  bench.pool_per_domain = 16;
  bench.domains = {"environment"};  // no speech: no espeak-ng needed
  absl::StatusOr<data::AudioBenchReport> generated = data::generate_audio_bench(bench);
  ASSERT_TRUE(generated.ok()) << generated.status();
  const train::Json base = {
      {"model", {{"name", "slowfast_nfnet"}, {"preset", "tiny"}, {"projection", {16, 8}}}},
      {"task", {{"name", "simclr"}, {"temperature", 0.2}}},
      {"data",
       {{"name", "audio_views"},
        {"path", bench.out_dir + "/pool.csv"},
        {"batch_size", 4},
        {"eval_batch_size", 4},
        {"audio", {{"clip_seconds", 1.0}, {"n_mels", 32}, {"crop_seconds", 0.5}}}}},
      {"optimizer", {{"name", "adam"}, {"lr", 1e-3}}},
      {"train", {{"steps", 2}, {"threads", 1}, {"eval_every", 0}, {"checkpoint_every", 0}}},
  };
  write_config(dir.path(), "base.json", base);
  const train::Json ablation = {
      {"base", "base.json"},
      {"points",
       {{{"name", "simclr"}, {"set", train::Json::object()}},
        {{"name", "random"}, {"set", train::Json::object()}, {"train", false}}}},
      {"evaluate",
       {{"name", "linear_eval"},
        {"bench", bench.out_dir},
        {"tasks", {"environment_event", "other:environment_count"}},
        {"steps", 20}}},
      {"columns", {"linear_environment", "linear_mean"}},
      {"output_dir", (dir.path() / "sweep").string()},
  };
  absl::StatusOr<train::Json> rows = run_ablation(dir.path(), ablation);
  ASSERT_TRUE(rows.ok()) << rows.status();
  for (const train::Json& row : *rows) {
    const train::Json& s = row["summary"];
    for (const char* key : {"linear_environment", "linear_other", "linear_mean",
                            "linear_environment_event", "linear_environment_count"}) {
      ASSERT_TRUE(s.contains(key)) << row["name"] << " " << key;
      EXPECT_GE(s[key].get<double>(), 0.0);
      EXPECT_LE(s[key].get<double>(), 1.0);
    }
    EXPECT_DOUBLE_EQ(s["linear_mean"].get<double>(),
                     (s["linear_environment"].get<double>() + s["linear_other"].get<double>()) / 2);
    // Every clip of the task is embedded (no partial batch dropped).
    std::ifstream report_file(dir.path() / "sweep" / row["name"].get<std::string>() /
                              "linear_eval.json");
    const train::Json report = train::Json::parse(report_file);
    std::ifstream manifest(bench.out_dir + "/environment_event.csv");
    const int64_t clips =
        std::count(std::istreambuf_iterator<char>(manifest), {}, '\n') - 1;  // less the header
    EXPECT_EQ(report["tasks"][0]["train_examples"].get<int64_t>() +
                  report["tasks"][0]["test_examples"].get<int64_t>(),
              clips);
  }
  // kiln linear-eval gives the same numbers for the same encoder.
  const fs::path simclr = dir.path() / "sweep" / "simclr";
  CommandResult cli = run_kiln({"linear-eval", (simclr / "config.json").string(), "--checkpoint",
                                simclr.string(), "--bench", bench.out_dir, "--tasks",
                                "environment_event,other:environment_count", "--steps", "20"});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("(domain mean)"), std::string::npos) << cli.output;
  const std::string mean =
      absl::StrFormat("%.4f", (*rows)[0]["summary"]["linear_mean"].get<double>());
  EXPECT_NE(cli.output.find("(mean over tasks)"), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find(mean), std::string::npos) << mean << "\n" << cli.output;
  CommandResult bad = run_kiln({"linear-eval", (simclr / "config.json").string(), "--checkpoint",
                                "init", "--bench", bench.out_dir, "--tasks", "no_such_task"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("no_such_task"), std::string::npos) << bad.output;

  const std::string md = [&] {
    std::ifstream in(dir.path() / "sweep" / "results.md");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  EXPECT_NE(md.find("linear_environment"), std::string::npos) << md;
}

TEST(SweepEvaluateE2E, BadEvaluateSectionNamesTheKey) {
  TempDir dir;
  write_config(dir.path(), "base.json", tiny_config(dir.path() / "unused"));
  const auto error = [&](const train::Json& ablation) {
    const std::string path = write_config(dir.path(), "bad.json", ablation);
    absl::StatusOr<train::SweepSpec> spec = train::load_sweep(path, {});
    EXPECT_FALSE(spec.ok());
    return std::string(spec.status().message());
  };
  const train::Json points = {{{"name", "a"}, {"set", train::Json::object()}, {"train", false}}};
  EXPECT_NE(error({{"base", "base.json"}, {"points", points}, {"output_dir", "o"}})
                .find("points.0.train is false, but the sweep has no \"evaluate\""),
            std::string::npos);
  EXPECT_NE(error({{"base", "base.json"},
                   {"points", points},
                   {"evaluate", {{"name", "linear_probe"}}},
                   {"output_dir", "o"}})
                .find("evaluate.name"),
            std::string::npos);
  EXPECT_NE(error({{"base", "base.json"},
                   {"points", points},
                   {"evaluate", {{"name", "linear_eval"}, {"tasks", {"a:"}}}},
                   {"output_dir", "o"}})
                .find("evaluate.tasks"),
            std::string::npos);
  EXPECT_NE(error({{"base", "base.json"},
                   {"points", points},
                   {"evaluate", {{"name", "nowcast"}, {"samples", 0}}},
                   {"output_dir", "o"}})
                .find("evaluate.samples"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln::testing
