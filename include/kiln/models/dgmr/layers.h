// DGMR's building blocks (2104.00954, Extended Data Fig. 1; sizes and
// details checked against openclimatefix/skillful_nowcasting). Channels-last:
// images (N, H, W, C), volumes (N, D, H, W, C). Every block takes the dtype
// of its parameters (f64 for gradient checks).
#pragma once

#include <memory>

#include "kiln/nn/module.h"
#include "kiln/nn/spectral_norm.h"
#include "kiln/tensor/generator.h"

namespace kiln::nn {
class BatchNorm;
}

namespace kiln::models::dgmr {

// A convolution of rank 2 (kernel (k, k, in, out)) or 3 ((k, k, k, in,
// out)), or a linear layer (rank 0: (in, out)), with "same" padding, stride
// 1, and optionally spectral normalisation of its weight.
struct ConvOptions {
  int64_t in = 0;
  int64_t out = 0;
  int64_t kernel = 3;  // odd
  int rank = 2;        // 0, 2 or 3
  bool spectral_norm = true;
  double sn_eps = 1e-12;
  bool bias = true;
  DType dtype = DType::kF32;
};

class Conv : public nn::Module {
 public:
  Conv(const ConvOptions& options, Generator& gen);
  // (N, H, W, in) / (N, D, H, W, in) / (..., in) -> the same with out.
  Tensor forward(const Tensor& x);
  const Tensor& weight() const { return weight_; }

 private:
  ConvOptions options_;
  Tensor weight_, bias_;
  std::shared_ptr<nn::SpectralNorm> sn_;
};

// Common settings of a block's convolutions.
struct BlockOptions {
  double sn_eps = 1e-12;  // 1e-4 in the generator
  DType dtype = DType::kF32;
};

// The discriminator-style residual block (BigGAN's): [ReLU] -> conv3x3 (in
// -> out) -> ReLU -> conv3x3 (out -> out) -> 2x average pooling; shortcut
// conv1x1 (when the channels change) -> pooling. rank 3 convolves and pools
// volumes (D, H and W all halved). SN on every conv.
struct DBlockOptions {
  int64_t in = 0;
  int64_t out = 0;
  int rank = 2;
  bool first_relu = true;
  bool downsample = true;
  BlockOptions block;
};
class DBlock : public nn::Module {
 public:
  DBlock(const DBlockOptions& options, Generator& gen);
  // (N, H, W, in) -> (N, H/2, W/2, out); rank 3: (N, D, H, W, in) -> halves.
  Tensor forward(const Tensor& x);

 private:
  Tensor pool(const Tensor& x) const;
  DBlockOptions options_;
  std::shared_ptr<Conv> conv1_, conv2_, shortcut_;
};

// The generator's residual block: BN -> ReLU -> [2x nearest upsampling] ->
// conv3x3 (in -> in) -> BN -> ReLU -> conv3x3 (in -> out); shortcut
// [upsampling ->] conv1x1 when the channels change or it upsamples.
struct GBlockOptions {
  int64_t in = 0;
  int64_t out = 0;
  bool upsample = false;
  BlockOptions block{.sn_eps = 1e-4};
};
class GBlock : public nn::Module {
 public:
  GBlock(const GBlockOptions& options, Generator& gen);
  // (N, H, W, in) -> (N, H, W, out), or (N, 2H, 2W, out) when upsampling.
  Tensor forward(const Tensor& x);

 private:
  GBlockOptions options_;
  std::shared_ptr<nn::BatchNorm> bn1_, bn2_;
  std::shared_ptr<Conv> conv1_, conv2_, shortcut_;
};

// The latent stack's residual block: ReLU -> conv3x3 (in -> out) -> ReLU ->
// conv3x3 (out -> out); shortcut concat(x, conv1x1(x) to out - in channels).
// No spectral normalisation (as the released pseudocode's reimplementation).
struct LBlockOptions {
  int64_t in = 0;
  int64_t out = 0;  // >= in
  DType dtype = DType::kF32;
};
class LBlock : public nn::Module {
 public:
  LBlock(const LBlockOptions& options, Generator& gen);
  // (N, H, W, in) -> (N, H, W, out).
  Tensor forward(const Tensor& x);

 private:
  LBlockOptions options_;
  std::shared_ptr<Conv> conv1_, conv2_, shortcut_;
};

// SAGAN spatial self-attention: q, k, v by 1x1 convs (no bias, no SN) to
// C / 8 channels, unscaled softmax(q k^T) over all H W positions, 1x1 conv
// back to C, times a learned gamma (initialised to 0), plus the input.
struct SpatialAttentionOptions {
  int64_t channels = 0;  // divisible by 8
  double gamma_init = 0.0;
  DType dtype = DType::kF32;
};
class SpatialAttention : public nn::Module {
 public:
  SpatialAttention(const SpatialAttentionOptions& options, Generator& gen);
  // (N, H, W, C) -> (N, H, W, C).
  Tensor forward(const Tensor& x);

 private:
  SpatialAttentionOptions options_;
  std::shared_ptr<Conv> query_, key_, value_, out_;
  Tensor gamma_;  // (1)
};

// Convolutional GRU cell with SN 3x3 convs and a ReLU candidate:
// r = sigmoid(conv_r([x, h])), u = sigmoid(conv_u([x, h])),
// c = relu(conv_c([x, r h])), h' = u h + (1 - u) c.
struct ConvGruOptions {
  int64_t input_channels = 0;
  int64_t hidden_channels = 0;
  BlockOptions block{.sn_eps = 1e-4};
};
class ConvGru : public nn::Module {
 public:
  ConvGru(const ConvGruOptions& options, Generator& gen);
  // x (N, H, W, Cx), h (N, H, W, Ch) -> h' (N, H, W, Ch).
  Tensor forward(const Tensor& x, const Tensor& h);

 private:
  ConvGruOptions options_;
  std::shared_ptr<Conv> reset_, update_, candidate_;
};

}  // namespace kiln::models::dgmr
