// The audio datasets as configs build them: data.name audio_manifest and
// audio_views over a small generated benchmark (environment domain only).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "kiln/data/audio_bench.h"
#include "kiln/data/audio_manifest.h"
#include "kiln/train/experiment_config.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

class AudioDataConfig : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (fs::path(::testing::TempDir()) / "kiln_audio_cfg_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    data::AudioBenchOptions o;
    o.out_dir = *dir_;
    o.per_class = 4;
    o.pool_per_domain = 0;
    o.domains = {"environment"};
    ASSERT_TRUE(data::generate_audio_bench(o).ok());
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
  }
  static absl::StatusOr<ExperimentConfig> config(const std::string& data) {
    return parse_experiment(Json::parse(R"({"model": {"name": "nfnet"}, "data": )" + data + "}"),
                            "test.json");
  }
  static std::string manifest(const std::string& task) { return *dir_ + "/" + task + ".csv"; }
  static std::string* dir_;
};
std::string* AudioDataConfig::dir_ = nullptr;

TEST_F(AudioDataConfig, ManifestGivesLabelledLogMelImages) {
  absl::StatusOr<ExperimentConfig> c =
      config(R"({"name": "audio_manifest", "path": ")" + manifest("environment_count") +
             R"(", "batch_size": 8, "shuffle": false, "prefetch": false})");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<RunData> run = build_data(*c);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->input_shape, (std::vector<int64_t>{98, 80, 1}));  // (F, n_mels, 1)
  EXPECT_EQ(run->num_classes, 5);
  EXPECT_EQ(run->train_examples, 60);
  EXPECT_EQ(run->eval_examples, 20);
  const data::Batch b = run->train_batches->get(0);
  EXPECT_EQ(b.at(data::kImageKey).shape(), (Shape{8, 98, 80, 1}));
  EXPECT_EQ(b.at(data::kLabelKey).shape(), (Shape{8}));
  const DataSignature sig = data_signature(c->data);
  EXPECT_EQ(sig.input_shape, run->input_shape);
  EXPECT_EQ(sig.num_classes, 5);
}

TEST_F(AudioDataConfig, ViewsGivePairsOfCrops) {
  absl::StatusOr<ExperimentConfig> c =
      config(R"({"name": "audio_views", "path": ")" + manifest("environment_event") +
             R"(", "batch_size": 4, "prefetch": false, "audio": {"crop_seconds": 0.5}})");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<RunData> run = build_data(*c);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->input_shape, (std::vector<int64_t>{48, 80, 1}));
  EXPECT_EQ(run->num_classes, 0);
  const data::Batch b = run->train_batches->get(0);
  EXPECT_EQ(b.at(data::kView1Key).shape(), (Shape{4, 48, 80, 1}));
  EXPECT_EQ(b.at(data::kView2Key).shape(), (Shape{4, 48, 80, 1}));
  EXPECT_FALSE(b.contains(data::kLabelKey));
}

TEST_F(AudioDataConfig, BadAudioConfigsAreClearErrors) {
  absl::StatusOr<ExperimentConfig> no_path = config(R"({"name": "audio_manifest"})");
  ASSERT_TRUE(no_path.ok());
  absl::StatusOr<RunData> run = build_data(*no_path);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("data.path"), std::string::npos);
  absl::StatusOr<ExperimentConfig> long_crop =
      config(R"({"name": "audio_views", "audio": {"crop_seconds": 2}})");
  ASSERT_FALSE(long_crop.ok());
  EXPECT_NE(long_crop.status().message().find("data.audio.crop_seconds"), std::string::npos);
  absl::StatusOr<ExperimentConfig> missing =
      config(R"({"name": "audio_manifest", "path": ")" + *dir_ + R"(/none.csv"})");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(build_data(*missing).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln::train
