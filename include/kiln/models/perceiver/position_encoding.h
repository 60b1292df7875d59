// Position encodings of the Perceiver family, as the official code
// (deepmind-research perceiver/position_encoding.py):
//
// - linear_positions: a grid over `index_dims` with every axis spanning
//   [-1, 1], endpoints included (jnp.linspace), row-major ("ij") order;
// - fourier_features: for positions (n, d) and K bands per axis, the
//   frequencies of axis j are linspace(1, max_resolution[j] / 2, K)
//   (endpoints included; the top one is the Nyquist frequency), and the
//   features of one position are, in this order,
//     [p_1 .. p_d,                                     (concat_pos)
//      sin(pi f_{1,k} p_1) for k = 1..K, ..., sin(pi f_{d,k} p_d) for k,
//      cos(pi f_{1,k} p_1) for k = 1..K, ..., cos(pi f_{d,k} p_d) for k]
//   (the cosines are dropped with sine_only): d (2K + 1) channels;
// - TrainablePositionEncoding: a learned (index_dim, channels) array drawn
//   from a truncated normal (2 sigma) with stddev init_scale (0.02), the
//   latent array, the learned decoder queries and learned input positions.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/nn/module.h"
#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::models {

// (prod(index_dims), d) f32 positions in [-1, 1]^d; an axis of size 1 sits
// at -1 (jnp.linspace with num = 1).
Tensor linear_positions(const std::vector<int64_t>& index_dims);

struct FourierFeatureOptions {
  int64_t num_bands = 64;  // K per axis
  // Per axis; empty means the index dims themselves (the official default).
  std::vector<double> max_resolution;
  bool concat_pos = true;  // prepend the raw positions
  bool sine_only = false;  // drop the cosines
};

// Channels of the Fourier features of d axes.
int64_t fourier_channels(int64_t num_axes, const FourierFeatureOptions& options);

// positions (n, d) -> (n, fourier_channels(d)) f32, computed in double.
// `max_resolution` must have d entries.
Tensor fourier_features(const Tensor& positions, const FourierFeatureOptions& options);

// fourier_features(linear_positions(index_dims)) with max_resolution
// defaulting to index_dims: (prod(index_dims), channels) f32.
Tensor fourier_position_encoding(const std::vector<int64_t>& index_dims,
                                 const FourierFeatureOptions& options);

// A learned array (index_dim, channels), parameter "pos_embs" (the official
// name). With trainable = false it is a fixed buffer of the same random
// values (a frozen random position code).
class TrainablePositionEncoding : public nn::Module {
 public:
  TrainablePositionEncoding(int64_t index_dim, int64_t channels, double init_scale, Generator& gen,
                            bool trainable = true);
  // -> (batch, index_dim, channels), broadcast (a zero-stride view).
  Tensor forward(int64_t batch) const;
  const Tensor& table() const { return table_; }

 private:
  Tensor table_;  // (index_dim, channels)
};

}  // namespace kiln::models
