#include "kiln/models/perceiver/position_encoding.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_join.h"
#include "kiln/nn/init.h"
#include "kiln/ops/shape.h"

namespace kiln::models {
namespace {

// jnp.linspace(lo, hi, n, endpoint=True): lo + i (hi - lo) / (n - 1); n = 1
// gives lo.
double linspace(double lo, double hi, int64_t n, int64_t i) {
  if (n == 1) return lo;
  return lo + static_cast<double>(i) * (hi - lo) / static_cast<double>(n - 1);
}

}  // namespace

Tensor linear_positions(const std::vector<int64_t>& index_dims) {
  KILN_CHECK(!index_dims.empty(), "linear_positions: needs at least one index dim");
  int64_t n = 1;
  for (int64_t s : index_dims) {
    KILN_CHECK(s > 0, "linear_positions: index dims must be positive, got [",
               absl::StrJoin(index_dims, ", "), "]");
    n *= s;
  }
  const int64_t d = static_cast<int64_t>(index_dims.size());
  std::vector<double> values(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    // Row-major: the last axis varies fastest.
    int64_t rest = i;
    for (int64_t j = d - 1; j >= 0; --j) {
      const int64_t size = index_dims[static_cast<size_t>(j)];
      values[static_cast<size_t>(i * d + j)] = linspace(-1.0, 1.0, size, rest % size);
      rest /= size;
    }
  }
  return from_vector(values, {n, d});
}

int64_t fourier_channels(int64_t num_axes, const FourierFeatureOptions& options) {
  const int64_t phases = options.sine_only ? 1 : 2;
  return num_axes * (phases * options.num_bands + (options.concat_pos ? 1 : 0));
}

Tensor fourier_features(const Tensor& positions, const FourierFeatureOptions& options) {
  KILN_CHECK(positions.dim() == 2, "fourier_features: positions must be (n, d), got ",
             shape_str(positions.shape()));
  const int64_t n = positions.size(0), d = positions.size(1);
  const int64_t k = options.num_bands;
  KILN_CHECK(k >= 1, "fourier_features: num_bands must be >= 1, got ", k);
  KILN_CHECK(static_cast<int64_t>(options.max_resolution.size()) == d,
             "fourier_features: max_resolution has ", options.max_resolution.size(),
             " entries for positions ", shape_str(positions.shape()));
  for (double r : options.max_resolution) {
    KILN_CHECK(r > 0, "fourier_features: max_resolution entries must be positive");
  }
  const std::vector<double> pos = to_vector(positions);
  const int64_t c = fourier_channels(d, options);
  const int64_t raw = options.concat_pos ? d : 0;
  std::vector<double> out(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i) {
    double* row = out.data() + i * c;
    for (int64_t j = 0; j < d; ++j) {
      const double p = pos[static_cast<size_t>(i * d + j)];
      if (options.concat_pos) row[j] = p;
      const double nyquist = options.max_resolution[static_cast<size_t>(j)] / 2.0;
      for (int64_t b = 0; b < k; ++b) {
        const double angle = std::numbers::pi * linspace(1.0, nyquist, k, b) * p;
        row[raw + j * k + b] = std::sin(angle);
        if (!options.sine_only) row[raw + d * k + j * k + b] = std::cos(angle);
      }
    }
  }
  return from_vector(out, {n, c});
}

Tensor fourier_position_encoding(const std::vector<int64_t>& index_dims,
                                 const FourierFeatureOptions& options) {
  FourierFeatureOptions o = options;
  if (o.max_resolution.empty()) o.max_resolution.assign(index_dims.begin(), index_dims.end());
  KILN_CHECK(o.max_resolution.size() == index_dims.size(),
             "fourier_position_encoding: max_resolution has ", o.max_resolution.size(),
             " entries for index dims [", absl::StrJoin(index_dims, ", "), "]");
  return fourier_features(linear_positions(index_dims), o);
}

TrainablePositionEncoding::TrainablePositionEncoding(int64_t index_dim, int64_t channels,
                                                     double init_scale, Generator& gen,
                                                     bool trainable) {
  KILN_CHECK(index_dim > 0 && channels > 0 && init_scale >= 0,
             "TrainablePositionEncoding: index_dim ", index_dim, " and channels ", channels,
             " must be positive and init_scale ", init_scale, " non-negative");
  Tensor table = Tensor::empty({index_dim, channels});
  // Haiku's TruncatedNormal(stddev): stddev times a [-2, 2]-truncated normal.
  nn::init::truncated_normal_(table, 0.0, init_scale, gen);
  table_ = trainable ? register_parameter("pos_embs", table) : register_buffer("pos_embs", table);
}

Tensor TrainablePositionEncoding::forward(int64_t batch) const {
  return expand(unsqueeze(table_, 0), {batch, table_.size(0), table_.size(1)});
}

}  // namespace kiln::models
