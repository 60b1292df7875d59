// Neural-network ops. Images are channels-last everywhere: activations are
// (N, H, W, C) and convolution weights are (KH, KW, C_in / groups, C_out),
// "HWIO" as in JAX, so the output-unit axis of every weight is its last.
// Volumes (video, radar sequences) are (N, D, H, W, C) with weights
// (KD, KH, KW, C_in / groups, C_out), "DHWIO".
#pragma once

#include <array>
#include <cstdint>

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

// Explicit padding, or TensorFlow's SAME / VALID rules. SAME pads
// total = max((ceil(in / stride) - 1) * stride + (k - 1) * dilation + 1 - in, 0)
// with total / 2 before and the rest after (asymmetric for even totals).
enum class PaddingMode { kExplicit, kSame, kValid };

struct Conv2dOptions {
  std::array<int64_t, 2> stride = {1, 1};
  PaddingMode padding_mode = PaddingMode::kExplicit;
  // (top, bottom, left, right), used when padding_mode is kExplicit.
  std::array<int64_t, 4> padding = {0, 0, 0, 0};
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t groups = 1;
};

// x (N, H, W, C_in), weight (KH, KW, C_in / groups, C_out), bias (C_out) or
// undefined -> (N, H_out, W_out, C_out). f32 or bf16 (f32 accumulation,
// output bf16) on oneDNN; f64 runs the reference kernel.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options = {});

struct Conv3dOptions {
  std::array<int64_t, 3> stride = {1, 1, 1};  // (D, H, W)
  PaddingMode padding_mode = PaddingMode::kExplicit;
  // (front, back, top, bottom, left, right), used when padding_mode is kExplicit.
  std::array<int64_t, 6> padding = {0, 0, 0, 0, 0, 0};
  std::array<int64_t, 3> dilation = {1, 1, 1};
  int64_t groups = 1;
};

// x (N, D, H, W, C_in), weight (KD, KH, KW, C_in / groups, C_out), bias
// (C_out) or undefined -> (N, D_out, H_out, W_out, C_out). Padding rules,
// dtypes and autocast as conv2d.
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dOptions& options = {});

struct Pool2dOptions {
  std::array<int64_t, 2> kernel = {2, 2};
  std::array<int64_t, 2> stride = {2, 2};
  PaddingMode padding_mode = PaddingMode::kExplicit;
  std::array<int64_t, 4> padding = {0, 0, 0, 0};  // (top, bottom, left, right)
};
// x (N, H, W, C) -> (N, H_out, W_out, C); f32, bf16 (oneDNN) or f64 (the
// reference kernel). Explicit padding must be smaller than the kernel.
// Average pooling counts only real (unpadded) elements, as TensorFlow's SAME;
// max pooling never picks a padded position.
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
struct Pool3dOptions {
  std::array<int64_t, 3> kernel = {2, 2, 2};  // (D, H, W)
  std::array<int64_t, 3> stride = {2, 2, 2};
  PaddingMode padding_mode = PaddingMode::kExplicit;
  // (front, back, top, bottom, left, right)
  std::array<int64_t, 6> padding = {0, 0, 0, 0, 0, 0};
};
// x (N, D, H, W, C) -> (N, D_out, H_out, W_out, C), as the 2-D pools (same
// dtypes, padding rules and treatment of padded positions).
Tensor avg_pool3d(const Tensor& x, const Pool3dOptions& options);
Tensor max_pool3d(const Tensor& x, const Pool3dOptions& options);

// x (N, H, W, C) -> (N, H * scale_h, W * scale_w, C), every pixel repeated
// over a scale_h x scale_w block; its gradient is the sum over the block.
Tensor upsample_nearest2d(const Tensor& x, int64_t scale_h, int64_t scale_w);

// (N, H, W, C) -> (N, out_h, out_w, C) averaging the PyTorch bins
// [floor(i H / out), ceil((i + 1) H / out)).
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

// Normalises over the last dim (size D); gamma and beta are (D) or undefined.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);

// Training-mode batch norm, channels-last: x (N, ..., C) is normalised per
// channel over every other dim with the batch's mean and population
// variance, (x - mean) / sqrt(var + eps), then scaled by gamma (C) and
// shifted by beta (C), either of which may be undefined. The gradient flows
// through the batch statistics. Running averages for evaluation are the
// caller's to keep (an nn module's buffers).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);

Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);

enum class Reduction { kMean, kSum, kNone };
struct CrossEntropyOptions {
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::kMean;
  // Integer targets equal to this are ignored (no loss, no gradient, not
  // counted by the mean).
  int64_t ignore_index = -100;
};
// logits (N, C) f32; targets (N) i32/i64 class indices, or (N, C) soft
// targets summing to 1. Label smoothing mixes the target with the uniform
// distribution: (1 - s) target + s / C. Fused and numerically stable.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyOptions& options = {});

// SimCLR's NT-Xent (normalised temperature-scaled cross-entropy, Chen et al.
// 2020): z1, z2 (B, D) are two views' projections, row i of each from the
// same example. Over the 2B rows z = [z1; z2], each anchor's positive is its
// other view and the other 2B - 2 rows are negatives:
//   loss = mean_i -log( exp(cos(z_i, z_pos(i)) / t) / sum_{k != i} exp(cos(z_i, z_k) / t) ).
// Returns the scalar loss; `logits` (2B, 2B) receives cos / t with the
// diagonal at -1e9 (for metrics: the positive of row i is column (i + B) mod 2B).
Tensor nt_xent(const Tensor& z1, const Tensor& z2, double temperature = 0.1,
               Tensor* logits = nullptr);

// table (V, D), ids of any shape (i32/i64) -> ids.shape + (D).
Tensor embedding(const Tensor& table, const Tensor& ids);

// Zeroes each element with probability p and scales the rest by 1 / (1 - p)
// when training; identity otherwise. The mask comes from `gen`.
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training = true);

struct AttentionOptions {
  bool causal = false;  // query i sees keys j <= i + (Tk - Tq)
  // Scale of q k^T; 0 means 1 / sqrt(head dim).
  double scale = 0.0;
};
// Scaled dot-product attention, memory-efficient: never holds more than a
// block of the (Tq, Tk) score matrix per thread, forward or backward.
// q (B, H, Tq, Dh), k (B, H, Tk, Dh), v (B, H, Tk, Dv) may be strided views
// (for example (B, T, H, Dh) transposed); bias (optional) broadcasts to
// (B, H, Tq, Tk) and is added to the scores; key_padding_mask (optional,
// bool (B, Tk), true = attend). Rows with no visible key give zeros.
// -> (B, H, Tq, Dv), laid out in memory as (B, Tq, H, Dv).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias = Tensor(),
                 const Tensor& key_padding_mask = Tensor(), const AttentionOptions& options = {});

}  // namespace kiln
