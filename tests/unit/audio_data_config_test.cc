// The audio datasets as configs build them: data.name audio_manifest and
// audio_views over a small manifest.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "kiln/data/audio.h"
#include "kiln/data/audio_manifest.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/random.h"
#include "kiln/train/experiment_config.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

class AudioDataConfig : public ::testing::Test {
 protected:
  // A manifest of 12 half-second noise clips in 3 classes, 8 train and 4 test.
  static void SetUpTestSuite() {
    std::string pattern = (fs::path(::testing::TempDir()) / "kiln_audio_cfg_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    std::string text = "path,label,split\n";
    for (int i = 0; i < 12; ++i) {
      Generator gen(static_cast<uint64_t>(i));
      const Tensor noise = mul(normal({8000}, 0.0, 0.1, gen), scalar_tensor(1.0 + i % 3));
      const std::string name = "clip" + std::to_string(i) + ".wav";
      ASSERT_TRUE(data::write_wav(*dir_ + "/" + name, {noise, 16000}).ok());
      text += name + "," + "abc"[i % 3] + "," + (i < 8 ? "train" : "test") + "\n";
    }
    std::ofstream(*dir_ + "/m.csv") << text;
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
  static std::string manifest() { return *dir_ + "/m.csv"; }
  static std::string* dir_;
};
std::string* AudioDataConfig::dir_ = nullptr;

TEST_F(AudioDataConfig, ManifestGivesLabelledLogMelImages) {
  absl::StatusOr<ExperimentConfig> c =
      config(R"({"name": "audio_manifest", "path": ")" + manifest() +
             R"(", "batch_size": 4, "shuffle": false, "prefetch": false,
                   "audio": {"clip_seconds": 0.5}})");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<RunData> run = build_data(*c);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->input_shape, (std::vector<int64_t>{48, 80, 1}));  // (F, n_mels, 1)
  EXPECT_EQ(run->num_classes, 3);
  EXPECT_EQ(run->train_examples, 8);
  EXPECT_EQ(run->eval_examples, 4);
  const data::Batch b = run->train_batches->get(0);
  EXPECT_EQ(b.at(data::kImageKey).shape(), (Shape{4, 48, 80, 1}));
  EXPECT_EQ(to_vector(b.at(data::kLabelKey)), (std::vector<double>{0, 1, 2, 0}));
  const DataSignature sig = data_signature(c->data);
  EXPECT_EQ(sig.input_shape, run->input_shape);
  EXPECT_EQ(sig.num_classes, 3);
}

TEST_F(AudioDataConfig, ViewsGivePairsOfCrops) {
  absl::StatusOr<ExperimentConfig> c = config(R"({"name": "audio_views", "path": ")" + manifest() +
                                              R"(", "batch_size": 4, "prefetch": false,
                   "audio": {"clip_seconds": 0.5, "crop_seconds": 0.25}})");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<RunData> run = build_data(*c);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->input_shape, (std::vector<int64_t>{23, 80, 1}));
  EXPECT_EQ(run->num_classes, 0);
  const data::Batch b = run->train_batches->get(0);
  EXPECT_EQ(b.at(data::kView1Key).shape(), (Shape{4, 23, 80, 1}));
  EXPECT_EQ(b.at(data::kView2Key).shape(), (Shape{4, 23, 80, 1}));
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
