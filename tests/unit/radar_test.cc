// Radar data: the synthetic generator (determinism, rain statistics, motion),
// semi-Lagrangian advection and motion estimation, the power spectrum, and
// the npy reader and writer with every malformed-file error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kiln/data/radar.h"
#include "kiln/data/radar_motion.h"
#include "support/temp_dir.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

RadarSyntheticOptions small_options() {
  RadarSyntheticOptions o;
  o.size = 16;
  o.height = 32;
  o.width = 32;
  o.context_frames = 4;
  o.lead_frames = 6;
  o.seed = 7;
  return o;
}

// Steady wind, no growth: the field is translated as a whole.
RadarSyntheticOptions steady_options() {
  RadarSyntheticOptions o = small_options();
  o.height = 48;
  o.width = 48;
  o.max_speed = 2.0;
  o.motion_variation = 0;
  o.max_turn = 0;
  o.growth = 0;
  o.min_wet_fraction = 0.3;
  o.max_wet_fraction = 0.4;
  return o;
}

TEST(RadarSynthetic, DeterministicFromSeedAndIndex) {
  const RadarSyntheticOptions o = small_options();
  const RadarSequence a = generate_radar_sequence(o, 3);
  const RadarSequence b = generate_radar_sequence(o, 3);
  EXPECT_EQ(a.frames.shape(), Shape({10, 32, 32, 1}));
  EXPECT_EQ(to_float_vector(a.frames), to_float_vector(b.frames));
  EXPECT_NE(to_float_vector(a.frames), to_float_vector(generate_radar_sequence(o, 4).frames));
  RadarSyntheticOptions other = o;
  other.seed = 8;
  EXPECT_NE(to_float_vector(a.frames), to_float_vector(generate_radar_sequence(other, 3).frames));
  const DatasetPtr dataset = radar_synthetic(o);
  EXPECT_EQ(dataset->size(), 16);
  EXPECT_EQ(to_float_vector(dataset->get(3).at(kFramesKey)), to_float_vector(a.frames));
}

TEST(RadarSynthetic, RainStatistics) {
  const RadarSyntheticOptions o = small_options();
  double wet = 0, total = 0, heavy = 0;
  std::vector<float> wet_rates;
  for (int64_t i = 0; i < o.size; ++i) {
    for (float v : to_float_vector(generate_radar_sequence(o, i).frames)) {
      ASSERT_TRUE(std::isfinite(v) && v >= 0 && v <= 128) << v;
      total += 1;
      if (v > 0) {
        wet += 1;
        wet_rates.push_back(v);
      }
      heavy += v >= 8;
    }
  }
  // Mostly dry, wet fraction near the drawn targets' mean (0.25).
  EXPECT_GT(wet / total, 0.1);
  EXPECT_LT(wet / total, 0.45);
  // Heavy tailed: a light median but some heavy rain.
  std::nth_element(wet_rates.begin(), wet_rates.begin() + wet_rates.size() / 2, wet_rates.end());
  EXPECT_LT(wet_rates[wet_rates.size() / 2], 4.0);
  EXPECT_GT(heavy / wet, 0.02);
}

// Mean product of a and b shifted by (sy, sx) over their overlap.
double overlap_correlation(const float* a, const float* b, int64_t h, int64_t w, int64_t sy,
                           int64_t sx) {
  double sum = 0;
  int64_t n = 0;
  for (int64_t y = std::max<int64_t>(0, -sy); y < std::min(h, h - sy); ++y) {
    for (int64_t x = std::max<int64_t>(0, -sx); x < std::min(w, w - sx); ++x) {
      sum += static_cast<double>(a[y * w + x]) * b[(y + sy) * w + x + sx];
      ++n;
    }
  }
  return sum / static_cast<double>(n);
}

TEST(RadarSynthetic, MotionMovesTheField) {
  const RadarSyntheticOptions o = steady_options();
  for (int64_t index : {0, 1, 2}) {
    const RadarSequence seq = generate_radar_sequence(o, index);
    const std::vector<float> f = to_float_vector(seq.frames);
    const int64_t k = 5, hw = o.height * o.width;
    std::vector<float> logs(f.size());
    for (size_t i = 0; i < f.size(); ++i) logs[i] = std::log1p(f[i]);
    int64_t best_y = 0, best_x = 0;
    double best = -1;
    for (int64_t sy = -14; sy <= 14; ++sy) {
      for (int64_t sx = -14; sx <= 14; ++sx) {
        const double c =
            overlap_correlation(logs.data(), logs.data() + k * hw, o.height, o.width, sy, sx);
        if (c > best) {
          best = c;
          best_y = sy;
          best_x = sx;
        }
      }
    }
    double dy = 0, dx = 0;
    for (int64_t t = 1; t <= k; ++t) {
      dy += seq.mean_motion[t][0];
      dx += seq.mean_motion[t][1];
    }
    EXPECT_GT(std::hypot(dy, dx), 4.9);  // speed >= 1 px per frame
    EXPECT_NEAR(best_y, dy, 1.0) << "index " << index;
    EXPECT_NEAR(best_x, dx, 1.0) << "index " << index;
  }
}

TEST(RadarSynthetic, RejectsBadOptions) {
  RadarSyntheticOptions o = small_options();
  o.min_wet_fraction = 0.5;
  o.max_wet_fraction = 0.2;
  EXPECT_THROW(radar_synthetic(o), Error);
  o = small_options();
  o.growth = 1.0;
  EXPECT_THROW(radar_synthetic(o), Error);
}

TEST(RadarMotion, AdvectTranslatesByIntegerSteps) {
  const int64_t h = 8, w = 10;
  std::vector<float> frame(h * w, 0.0f);
  frame[3 * w + 2] = 5.0f;
  std::vector<float> motion(h * w * 2);
  for (int64_t i = 0; i < h * w; ++i) {
    motion[2 * i] = 1.0f;      // dy
    motion[2 * i + 1] = 2.0f;  // dx
  }
  const Tensor out = advect(from_vector(frame, {h, w}), from_vector(motion, {h, w, 2}), 3);
  ASSERT_EQ(out.shape(), Shape({3, h, w}));
  const std::vector<float> v = to_float_vector(out);
  for (int64_t t = 0; t < 3; ++t) {
    for (int64_t i = 0; i < h * w; ++i) {
      const float expected = i == (3 + t + 1) * w + 2 + 2 * (t + 1) ? 5.0f : 0.0f;
      EXPECT_FLOAT_EQ(v[t * h * w + i], expected) << "t " << t << " i " << i;
    }
  }
}

TEST(RadarMotion, EstimatesSteadyMotion) {
  const RadarSyntheticOptions o = steady_options();
  for (int64_t index : {0, 1, 2, 3}) {
    const RadarSequence seq = generate_radar_sequence(o, index);
    const int64_t hw = o.height * o.width;
    const Tensor context =
        from_vector(std::vector<float>(seq.frames.data<float>(), seq.frames.data<float>() + 4 * hw),
                    {4, o.height, o.width});
    const std::vector<float> v = to_float_vector(estimate_motion(context));
    double my = 0, mx = 0;
    for (int64_t i = 0; i < hw; ++i) {
      my += v[2 * i];
      mx += v[2 * i + 1];
    }
    EXPECT_NEAR(my / hw, seq.mean_motion[1][0], 0.15) << "index " << index;
    EXPECT_NEAR(mx / hw, seq.mean_motion[1][1], 0.15) << "index " << index;
  }
}

TEST(RadarSpectrum, SinusoidPeaksAtItsFrequency) {
  const int64_t n = 32;
  for (auto [ky, kx, bin] : std::vector<std::array<int64_t, 3>>{{0, 8, 8}, {3, 4, 5}}) {
    std::vector<float> f(n * n);
    for (int64_t y = 0; y < n; ++y) {
      for (int64_t x = 0; x < n; ++x) {
        f[y * n + x] =
            2.0f + static_cast<float>(std::cos(2 * std::numbers::pi * (ky * y + kx * x) / n));
      }
    }
    const std::vector<float> psd = to_float_vector(radial_power_spectrum(from_vector(f, {n, n})));
    ASSERT_EQ(psd.size(), 16u);
    const auto peak = std::max_element(psd.begin(), psd.end()) - psd.begin();
    EXPECT_EQ(peak + 1, bin);
    for (size_t k = 0; k < psd.size(); ++k) {
      if (static_cast<int64_t>(k) != peak) {
        EXPECT_LT(psd[k], 1e-6 * psd[peak]);
      }
    }
  }
}

// A fresh directory per test, removed afterwards.
class RadarNpy : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  // An npy v1 file with `header` (the dict) and `values` as f32 bytes.
  std::string write_npy(const std::string& name, const std::string& header,
                        const std::vector<float>& values, size_t drop_bytes = 0) const {
    std::string h = header;
    while ((10 + h.size() + 1) % 64 != 0) h.push_back(' ');
    h.push_back('\n');
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes.push_back(static_cast<char>(h.size() & 0xff));
    bytes.push_back(static_cast<char>(h.size() >> 8));
    bytes += h;
    bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
    bytes.resize(bytes.size() - drop_bytes);
    const std::string p = path(name);
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  kiln::testing::TempDir tmp_;
  std::string dir_ = tmp_.path().string();
};

TEST_F(RadarNpy, RoundTrip) {
  const Tensor frames = generate_radar_sequence(small_options(), 0).frames;  // (T, H, W, 1)
  const Tensor two = from_vector(
      [&] {
        std::vector<float> v = to_float_vector(frames);
        const std::vector<float> w =
            to_float_vector(generate_radar_sequence(small_options(), 1).frames);
        v.insert(v.end(), w.begin(), w.end());
        return v;
      }(),
      {2, 10, 32, 32, 1});
  ASSERT_TRUE(write_radar_npy(path("a.npy"), two).ok());
  absl::StatusOr<Tensor> back = read_radar_npy(path("a.npy"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), Shape({2, 10, 32, 32, 1}));
  EXPECT_EQ(to_float_vector(*back), to_float_vector(two));
  EXPECT_FALSE(fs::exists(path("a.npy.tmp")));
  const DatasetPtr d = radar_sequences_dataset(*back, 1, 2);
  EXPECT_EQ(d->size(), 1);
  EXPECT_EQ(d->get(0).at(kFramesKey).shape(), Shape({10, 32, 32, 1}));

  // Rank 4 (N, T, H, W) as numpy.save writes it without the channel.
  const std::string p =
      write_npy("r4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2, 2), }",
                {0, 1, 2, 3, 4, 5, 6, 7});
  absl::StatusOr<Tensor> r4 = read_radar_npy(p);
  ASSERT_TRUE(r4.ok()) << r4.status();
  EXPECT_EQ(r4->shape(), Shape({1, 2, 2, 2, 1}));
  EXPECT_EQ(to_float_vector(*r4)[7], 7.0f);
}

TEST_F(RadarNpy, CorruptFilesNameTheFileAndField) {
  const std::vector<float> ok(8, 1.0f);
  const std::string good_header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2, 2), }";
  struct Case {
    std::string name, header;
    std::vector<float> values;
    size_t drop;
    absl::StatusCode code;
    std::string field;
  };
  std::vector<float> negative = ok, nan = ok, huge = ok;
  negative[5] = -0.5f;
  nan[2] = std::numeric_limits<float>::quiet_NaN();
  huge[3] = 5000.0f;
  const std::vector<Case> cases = {
      {"truncated.npy", good_header, ok, 6, absl::StatusCode::kDataLoss, "data"},
      {"huge_shape.npy",
       "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000, 1000, 1000), }",
       ok, 0, absl::StatusCode::kDataLoss, "truncated"},
      {"f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2, 2), }", ok, 0,
       absl::StatusCode::kInvalidArgument, "'descr'"},
      {"rank3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", ok, 0,
       absl::StatusCode::kInvalidArgument, "'shape'"},
      {"channels.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2, 2), }", ok,
       0, absl::StatusCode::kInvalidArgument, "'shape'"},
      {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 2, 2), }", ok, 0,
       absl::StatusCode::kInvalidArgument, "'fortran_order'"},
      {"noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", ok, 0,
       absl::StatusCode::kInvalidArgument, "'shape'"},
      {"negative.npy", good_header, negative, 0, absl::StatusCode::kInvalidArgument, "negative"},
      {"nan.npy", good_header, nan, 0, absl::StatusCode::kInvalidArgument, "not finite"},
      {"huge.npy", good_header, huge, 0, absl::StatusCode::kInvalidArgument, "plausible"},
  };
  for (const Case& c : cases) {
    const std::string p = write_npy(c.name, c.header, c.values, c.drop);
    const absl::StatusOr<Tensor> r = read_radar_npy(p);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status();
    const std::string message(r.status().message());
    EXPECT_NE(message.find(p), std::string::npos) << message;
    EXPECT_NE(message.find(c.field), std::string::npos) << message;
  }
  // The value errors say where.
  EXPECT_NE(
      std::string(read_radar_npy(path("negative.npy")).status().message()).find("(0, 1, 0, 1)"),
      std::string::npos);

  std::ofstream(path("magic.npy"), std::ios::binary) << "PK\x03\x04 not numpy";
  const absl::Status magic = read_radar_npy(path("magic.npy")).status();
  EXPECT_NE(std::string(magic.message()).find("magic"), std::string::npos) << magic;
  const absl::Status missing = read_radar_npy(path("missing.npy")).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  std::ofstream(path("short.npy"), std::ios::binary)
      << std::string("\x93NUMPY\x01\x00\x40\x00{'de", 14);
  EXPECT_EQ(read_radar_npy(path("short.npy")).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kiln::data
