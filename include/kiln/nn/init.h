// Initialisers: fill a tensor in place from an explicit generator.
//
// Fans follow kiln's weight layout, where the output-unit axis is last:
// linear (in, out) and convolution (KH, KW, in, out) alike have
// fan_in = numel / shape[-1] and fan_out = numel / shape[-2].
#pragma once

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::nn::init {

int64_t fan_in(const Tensor& w);
int64_t fan_out(const Tensor& w);

void zeros_(const Tensor& t);
void ones_(const Tensor& t);
void constant_(const Tensor& t, double value);
void uniform_(const Tensor& t, double lo, double hi, Generator& gen);
void normal_(const Tensor& t, double mean, double stddev, Generator& gen);
// mean + stddev * z, z ~ N(0, 1) truncated to [-2, 2] (Haiku's TruncatedNormal).
void truncated_normal_(const Tensor& t, double mean, double stddev, Generator& gen);

enum class FanMode { kFanIn, kFanOut, kFanAvg };
enum class Distribution { kNormal, kTruncatedNormal, kUniform };
// Variance scaling (as Haiku's VarianceScaling): variance = scale / fan; a
// truncated normal has its stddev corrected for the truncation
// (divided by 0.87962566103423978).
void variance_scaling_(const Tensor& t, double scale, FanMode mode, Distribution distribution,
                       Generator& gen);
// He / Kaiming: variance 2 / fan_in (gain^2 / fan_in in general).
void kaiming_normal_(const Tensor& t, Generator& gen, double gain = 1.4142135623730951);
void kaiming_uniform_(const Tensor& t, Generator& gen, double gain = 1.4142135623730951);
// Glorot / Xavier: variance 2 / (fan_in + fan_out).
void xavier_normal_(const Tensor& t, Generator& gen);
void xavier_uniform_(const Tensor& t, Generator& gen);

}  // namespace kiln::nn::init
