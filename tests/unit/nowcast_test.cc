// Nowcast verification: CSI, fair CRPS with pooling, the PSD accumulator,
// the baselines (advection beats persistence under steady motion), the
// radar data config, and the PNG writer (signature, chunks, CRCs, inflate).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kiln/data/radar.h"
#include "kiln/io/png.h"
#include "kiln/ops/random.h"
#include "kiln/ops/shape.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/nowcast.h"
#include "kiln/train/nowcast_metrics.h"
#include "src/train/builders.h"
#include "support/temp_dir.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

// (1, T, 1, N, 1) frames holding `values` as T rows of N pixels.
Tensor frames(const std::vector<float>& values, int64_t t) {
  return from_vector(values, {1, t, 1, static_cast<int64_t>(values.size()) / t, 1});
}

TEST(NowcastMetrics, CsiKnownCases) {
  const Tensor truth = frames({2, 0, 5, 0, 9, 9, 0, 0}, 2);
  CsiAccumulator perfect({1, 4, 8}, 2);
  perfect.add(truth, truth);
  EXPECT_EQ(perfect.csi()[0], std::vector<double>({1.0, 1.0}));
  EXPECT_EQ(perfect.csi()[2][1], 1.0);
  EXPECT_TRUE(std::isnan(perfect.csi()[2][0]));  // nothing reaches 8 at lead 1

  CsiAccumulator dry({1}, 2);
  dry.add(frames(std::vector<float>(8, 0.0f), 2), truth);
  EXPECT_EQ(dry.csi()[0], std::vector<double>({0.0, 0.0}));

  // Lead 1 at 1 mm/h: truth rainy at 0, 2; forecast at 0, 1: one hit, one
  // miss, one false alarm. At 4 mm/h: one miss.
  CsiAccumulator hand({1, 4}, 2);
  hand.add(frames({2, 3, 0, 0, 9, 9, 0, 0}, 2), truth);
  EXPECT_EQ(hand.counts(0, 0).hits, 1);
  EXPECT_EQ(hand.counts(0, 0).misses, 1);
  EXPECT_EQ(hand.counts(0, 0).false_alarms, 1);
  EXPECT_DOUBLE_EQ(hand.csi()[0][0], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(hand.csi()[1][0], 0.0);
  // Counts accumulate over batches: a perfect second batch.
  hand.add(truth, truth);
  EXPECT_DOUBLE_EQ(hand.csi()[0][0], 3.0 / 5.0);
}

TEST(NowcastMetrics, FairCrps) {
  const float one[] = {3.0f};
  EXPECT_DOUBLE_EQ(crps_fair(one, 1, 1.0f), 2.0);  // the absolute error
  // Members {0, 4}: mean |x - y| - |0 - 4| / 2.
  const float two[] = {4.0f, 0.0f};
  EXPECT_DOUBLE_EQ(crps_fair(two, 2, 5.0f), 3.0 - 2.0);
  EXPECT_DOUBLE_EQ(crps_fair(two, 2, 1.0f), 2.0 - 2.0);
  // Three members against the double sum written out.
  const float three[] = {1.0f, 7.0f, 2.0f};
  double skill = 0, spread = 0;
  for (float a : three) {
    skill += std::abs(a - 3.0f) / 3.0;
    for (float b : three) spread += std::abs(a - b);
  }
  EXPECT_NEAR(crps_fair(three, 3, 3.0f), skill - spread / (2.0 * 3 * 2), 1e-12);

  // One member: the accumulator's CRPS is the MAE; pooled 2x2 it is the MAE
  // of the block means.
  const Tensor truth = from_vector(std::vector<float>{0, 4, 2, 2}, {1, 1, 2, 2, 1});
  const Tensor forecast = from_vector(std::vector<float>{1, 1, 1, 1}, {1, 1, 2, 2, 1});
  CrpsAccumulator acc({1, 2}, 1);
  acc.add({forecast}, truth);
  EXPECT_DOUBLE_EQ(acc.crps()[0][0], (1 + 3 + 1 + 1) / 4.0);
  EXPECT_DOUBLE_EQ(acc.crps()[1][0], 1.0);  // |1 - 2|
}

TEST(NowcastMetrics, AveragePool) {
  std::vector<float> v(5 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const Tensor pooled = average_pool_frames(from_vector(v, {1, 1, 5, 5, 1}), 2);
  EXPECT_EQ(pooled.shape(), Shape({1, 1, 2, 2, 1}));
  EXPECT_EQ(to_float_vector(pooled), std::vector<float>({3, 5, 13, 15}));
}

TEST(NowcastMetrics, PsdAccumulatorAverages) {
  PsdAccumulator psd;
  psd.add(zeros({2, 3, 8, 8, 1}));
  EXPECT_EQ(psd.psd(), std::vector<double>(4, 0.0));
  EXPECT_EQ(psd.frequencies(), std::vector<double>({0.125, 0.25, 0.375, 0.5}));
}

data::RadarSyntheticOptions steady_options() {
  data::RadarSyntheticOptions o;
  o.size = 8;
  o.height = 48;
  o.width = 48;
  o.context_frames = 4;
  o.lead_frames = 8;
  o.max_speed = 1.5;
  o.motion_variation = 0;
  o.max_turn = 0;
  o.growth = 0;
  o.min_wet_fraction = 0.2;
  o.max_wet_fraction = 0.35;
  o.seed = 3;
  return o;
}

TEST(Nowcast, AdvectionBeatsPersistenceUnderSteadyMotion) {
  const data::DatasetPtr batches = data::batch(data::radar_synthetic(steady_options()), 4);
  NowcastEvalOptions options;
  options.pool_scales = {1, 4, 16};
  std::vector<NowcastScores> scores;
  for (const NamedForecaster& f : baseline_forecasters()) {
    scores.push_back(evaluate_nowcast(f, *batches, options));
  }
  const NowcastScores& persistence = scores[0];
  const NowcastScores& advection = scores[1];
  ASSERT_EQ(persistence.name, "persistence");
  EXPECT_EQ(persistence.examples, 8);
  EXPECT_EQ(persistence.csi.size(), 3u);
  EXPECT_EQ(persistence.csi[0].size(), 8u);
  EXPECT_EQ(advection.pool_scales, std::vector<int64_t>({1, 4, 16}));
  for (int64_t t : {3, 7}) {
    EXPECT_GT(advection.csi[0][t], persistence.csi[0][t] + 0.1) << "lead " << t;
    EXPECT_LT(advection.crps[0][t], persistence.crps[0][t]) << "lead " << t;
  }
  // Persistence's skill decays with lead time.
  EXPECT_GT(persistence.csi[0][0], persistence.csi[0][7]);
  const Json json = nowcast_scores_json(advection);
  EXPECT_EQ(json["csi"]["1"].size(), 8u);
  EXPECT_EQ(json["crps"]["16"].size(), 8u);
  const std::string table = nowcast_table(scores);
  EXPECT_NE(table.find("advection"), std::string::npos);
  EXPECT_NE(table.find("CSI >= 4 mm/h"), std::string::npos);
}

TEST(Nowcast, EnsembleForecasterDrawsEachMemberFromItsOwnKey) {
  // A "model" adding Gaussian noise to persistence.
  const Forecaster noisy =
      ensemble_forecaster([](const Tensor& context, int64_t leads, Generator& gen) {
        const Tensor last = persistence_forecaster()(context, {.lead_frames = leads})[0];
        std::vector<float> v = to_float_vector(last);
        const std::vector<float> noise = to_float_vector(normal({last.numel()}, 0, 1, gen));
        for (size_t i = 0; i < v.size(); ++i) v[i] = std::max(0.0f, v[i] + noise[i]);
        return from_vector(v, last.shape());
      });
  const Tensor context = full({2, 4, 8, 8, 1}, 3.0);
  const std::vector<Tensor> a = noisy(context, {.lead_frames = 5, .num_samples = 3, .seed = 9});
  const std::vector<Tensor> b = noisy(context, {.lead_frames = 5, .num_samples = 2, .seed = 9});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].shape(), Shape({2, 5, 8, 8, 1}));
  EXPECT_EQ(to_float_vector(a[1]), to_float_vector(b[1]));  // same key, same member
  EXPECT_NE(to_float_vector(a[0]), to_float_vector(a[1]));
  // A spread ensemble scores a lower CRPS than its members' mean error alone.
  const Tensor truth = full({2, 5, 8, 8, 1}, 3.0);
  CrpsAccumulator ensemble({1}, 5), single({1}, 5);
  ensemble.add(a, truth);
  single.add({a[0]}, truth);
  EXPECT_LT(ensemble.crps()[0][0], single.crps()[0][0]);
}

// Spread is the members' standard deviation per pixel: members 1 and 3 mm/h
// everywhere give 1 at every lead time; one member gives 0.
TEST(Nowcast, SpreadIsTheMembersStandardDeviation) {
  const data::DatasetPtr batches = data::batch(data::radar_synthetic(steady_options()), 4);
  const NamedForecaster pair{"pair", [](const Tensor& context, const ForecastRequest& request) {
                               Shape shape = context.shape();
                               shape[1] = request.lead_frames;
                               return std::vector<Tensor>{full(shape, 1.0), full(shape, 3.0)};
                             }};
  const NowcastScores two = evaluate_nowcast(pair, *batches, {});
  ASSERT_EQ(two.spread.size(), 8u);
  for (double s : two.spread) EXPECT_NEAR(s, 1.0, 1e-12);
  const NowcastScores one = evaluate_nowcast(baseline_forecasters()[0], *batches, {});
  for (double s : one.spread) EXPECT_EQ(s, 0.0);
  EXPECT_NE(nowcast_table({two, one}).find("Ensemble spread"), std::string::npos);
  EXPECT_EQ(nowcast_scores_json(two)["spread"].size(), 8u);
}

TEST(Nowcast, RejectsForecastsOfTheWrongShape) {
  const data::DatasetPtr batches = data::batch(data::radar_synthetic(steady_options()), 4);
  const NamedForecaster bad{"bad", [](const Tensor& context, const ForecastRequest&) {
                              return std::vector<Tensor>{context};
                            }};
  EXPECT_THROW(evaluate_nowcast(bad, *batches, {}), Error);
}

TEST(Nowcast, RadarDataConfig) {
  const Json config = Json::parse(R"({
    "model": {"name": "none"},
    "data": {"name": "radar_synthetic", "batch_size": 2, "num_examples": 16,
             "radar": {"height": 16, "width": 24, "lead_frames": 3}}})");
  absl::StatusOr<ExperimentConfig> parsed = parse_experiment(config, "radar.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<RunData> run = build_data(*parsed);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->input_shape, std::vector<int64_t>({7, 16, 24, 1}));
  EXPECT_EQ(run->train_batches->get(0).at(data::kFramesKey).shape(), Shape({2, 7, 16, 24, 1}));
  EXPECT_EQ(run->eval_examples, 2);

  Json typo = config;
  typo["data"]["radar"]["max_sped"] = 2;
  const absl::Status bad = parse_experiment(typo, "radar.json").status();
  EXPECT_NE(std::string(bad.message()).find("data.radar.max_sped"), std::string::npos) << bad;
}

// Big-endian u32 at `p`.
uint32_t be32(const std::string& s, size_t p) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[p])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[p + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[p + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[p + 3]));
}

// Checks the chunk structure and CRCs; returns the inflated IDAT bytes.
std::string check_png(const std::string& png, int64_t height, int64_t width) {
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  size_t p = 8;
  std::string idat, types;
  while (p + 12 <= png.size()) {
    const uint32_t len = be32(png, p);
    const std::string type = png.substr(p + 4, 4);
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + p + 4), len + 4);
    EXPECT_EQ(be32(png, p + 8 + len), static_cast<uint32_t>(crc)) << type;
    if (type == "IHDR") {
      EXPECT_EQ(len, 13u);
      EXPECT_EQ(be32(png, p + 8), static_cast<uint32_t>(width));
      EXPECT_EQ(be32(png, p + 12), static_cast<uint32_t>(height));
      EXPECT_EQ(png[p + 16], 8);  // bit depth
      EXPECT_EQ(png[p + 17], 2);  // RGB
    }
    if (type == "IDAT") idat += png.substr(p + 8, len);
    types += type + " ";
    p += 12 + len;
  }
  EXPECT_EQ(p, png.size());
  EXPECT_EQ(types, "IHDR IDAT IEND ");
  std::string raw(static_cast<size_t>(height * (width * 3 + 1)), '\0');
  uLongf raw_size = raw.size();
  EXPECT_EQ(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                       reinterpret_cast<const Bytef*>(idat.data()), idat.size()),
            Z_OK);
  EXPECT_EQ(raw_size, raw.size());
  return raw;
}

TEST(Png, EncodesAValidImage) {
  const int64_t h = 3, w = 5;
  std::vector<uint8_t> rgb(h * w * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  const std::string raw = check_png(io::encode_png(rgb, h, w), h, w);
  for (int64_t y = 0; y < h; ++y) {
    EXPECT_EQ(raw[y * (w * 3 + 1)], 0);  // filter: none
    for (int64_t i = 0; i < w * 3; ++i) {
      EXPECT_EQ(static_cast<uint8_t>(raw[y * (w * 3 + 1) + 1 + i]), rgb[y * w * 3 + i]);
    }
  }
}

TEST(Png, NowcastPicture) {
  const kiln::testing::TempDir tmp;
  const std::string dir = tmp.path().string();
  const std::string path = (fs::path(dir) / "nowcast.png").string();
  const Tensor sequence =
      data::generate_radar_sequence(steady_options(), 0).frames;  // (12, 48, 48, 1)
  const Tensor lead = zeros({8, 48, 48, 1});
  ASSERT_TRUE(write_nowcast_png(path, sequence, 4, {lead, lead}).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // 12 frames of 48 with 2-pixel gaps across; 3 rows down.
  check_png(png, 3 * 50 + 2, 12 * 50 + 2);
}

// Sequences exported to npy, read back as data "radar_npy", scored with the
// baselines and pictured: the path of kiln radar-export + kiln nowcast.
TEST(Nowcast, RunNowcastOnAnNpyFile) {
  const kiln::testing::TempDir tmp;
  const std::string dir = tmp.path().string();
  data::RadarSyntheticOptions o = steady_options();
  o.height = 32;
  o.width = 32;
  std::vector<Tensor> sequences;
  for (int64_t i = 0; i < 6; ++i) sequences.push_back(data::generate_radar_sequence(o, i).frames);
  const std::string npy = (fs::path(dir) / "radar.npy").string();
  ASSERT_TRUE(data::write_radar_npy(npy, stack(sequences, 0)).ok());

  const Json config =
      Json::parse(absl::StrCat(R"({"model": {"name": "none"}, "data": {
      "name": "radar_npy", "path": ")",
                               npy, R"(", "batch_size": 2, "eval_fraction": 0.34}})"));
  absl::StatusOr<ExperimentConfig> parsed = parse_experiment(config, "npy.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::string png = (fs::path(dir) / "nowcast.png").string();
  absl::StatusOr<std::vector<NowcastScores>> scores =
      run_nowcast(*parsed, baseline_forecasters(), {}, png);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_EQ((*scores)[0].examples, 2);  // the last 2 of 6 sequences
  EXPECT_EQ((*scores)[1].csi[0].size(), 8u);
  EXPECT_EQ((*scores)[1].pool_scales, std::vector<int64_t>({1, 4, 16}));
  EXPECT_TRUE(fs::exists(png));

  Json images = config;
  images["data"] = Json::parse(R"({"name": "synthetic_images"})");
  absl::StatusOr<ExperimentConfig> wrong = parse_experiment(images, "images.json");
  ASSERT_TRUE(wrong.ok());
  const absl::Status status = run_nowcast(*wrong, baseline_forecasters(), {}).status();
  EXPECT_NE(std::string(status.message()).find("radar"), std::string::npos) << status;
}

}  // namespace
}  // namespace kiln::train
