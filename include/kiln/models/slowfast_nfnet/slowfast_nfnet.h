// Slowfast NFNet (HARES, "Towards Learning Universal Audio Representations",
// 2111.12124): SlowFast (Feichtenhofer et al. 2019) over a log-mel
// spectrogram treated as an image, time x frequency, channels-last
// (N, T, F, C), with NFNet stages (nfnet.h) in each pathway.
//
//   slow pathway: every time_stride-th frame, the NFNet stem and stages at
//                 full width
//   fast pathway: every frame, the same stem and stages with channels (and
//                 the group width) divided by channel_ratio
//   laterals:     before each slow stage, fast -> slow: a conv of kernel
//                 (fusion_kernel, 1), stride (time_stride, 1) to
//                 fusion_channel_ratio * fast channels, concatenated to the
//                 slow channels (SlowFast's time-strided convolution fusion)
//   final:        per pathway final_conv 1x1 to final_conv_mult * width, act,
//                 global average pool over (T, F); the embedding is
//                 [slow, fast] concatenated
//   heads:        optional classifier "head" (N(0, 0.01^2)) after dropout, or
//                 an optional SimCLR projection MLP "projection"
//
// normalization "none": NFBlocks, WSConv2d stem / laterals / final conv,
// gamma-scaled activations. The lateral sees act(fast) * beta and its output
// is multiplied by the slow pathway's expected std (1 / beta), so the
// concatenated channels share one expected std and the next (transition)
// block's beta stays right. "batch_norm": BNBlocks and ConvBN units
// (bn_block.h) with unscaled activations, laterals conv -> BN -> act as
// SlowFast.
//
// Parameter names: {slow, fast}.{stem.{i}, stages.{s}.blocks.{b}, final_conv},
// laterals.{s}, head, projection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/models/model.h"
#include "kiln/models/nfnet/nfnet.h"
#include "kiln/nn/layers.h"

namespace kiln::models {

struct SlowFastNFNetOptions {
  // The slow pathway's architecture and the shared recipe (stem, stages,
  // expansion, group width, SE, alpha, activation, final conv), also
  // in_channels, num_classes (0: no classifier) and dropout before it.
  NFNetOptions slow = nfnet_variant("F0");
  std::string pathways = "slowfast";   // or "slow_only", "fast_only"
  std::string normalization = "none";  // or "batch_norm"
  int64_t time_stride = 4;             // alpha_sf: frames per slow frame
  int64_t channel_ratio = 8;           // 1 / beta_sf: slow / fast channels
  int64_t fusion_kernel = 7;           // lateral conv kernel in time
  int64_t fusion_channel_ratio = 2;    // lateral channels / fast channels
  // SimCLR projection MLP on the embedding (layer sizes, ReLU between);
  // empty: none. With a projection, forward returns its output.
  std::vector<int64_t> projection;
};

// "F0": SF-NFNet-F0 (the slow pathway is NFNet-F0's stem and stages [1, 2, 6, 3]);
// "tiny": a few thousand parameters, for tests and minutes-long CPU runs.
SlowFastNFNetOptions slowfast_nfnet_preset(const std::string& name);
std::vector<std::string> slowfast_nfnet_preset_names();

// One pathway: stem, stages and final conv, each stage's first block widened
// by `lateral_channels[s]` input channels.
class SlowFastPathway : public nn::Module {
 public:
  SlowFastPathway(int64_t in_channels, const NFNetPlan& plan,
                  const std::vector<int64_t>& lateral_channels, const std::string& normalization,
                  const std::string& activation, Generator& gen,
                  std::shared_ptr<Generator> noise_gen);
  Tensor stem(const Tensor& x);              // (N, T, F, C) -> (N, T', F', c0)
  Tensor stage(int64_t s, const Tensor& x);  // (N, t, f, c) -> (N, t', f', width_s)
  Tensor final_features(const Tensor& x);    // -> act(final_conv(x)) pooled: (N, final)
  int64_t final_channels() const { return final_channels_; }

 private:
  bool nf_;
  nn::Activation activation_;
  std::vector<std::shared_ptr<nn::UnaryModule>> stem_;
  std::vector<std::vector<std::shared_ptr<nn::UnaryModule>>> stages_;
  std::shared_ptr<nn::UnaryModule> final_conv_;
  int64_t final_channels_;
};

class SlowFastNFNet : public Model {
 public:
  SlowFastNFNet(const SlowFastNFNetOptions& options, Generator& gen,
                std::shared_ptr<Generator> noise_gen);
  // spectrogram (N, T, F, C) -> projection (N, projection.back()) if set,
  // else logits (N, num_classes) if num_classes > 0, else embed().
  Tensor forward(const Tensor& spectrogram) override;
  // The pooled embedding: (N, T, F, C) -> (N, embedding_size()).
  Tensor embed(const Tensor& spectrogram);
  // Stage s's slow input: [slow, lateral_s(fast)] concatenated over channels,
  // slow (N, t, f, c_slow), fast (N, t * time_stride, f, c_fast) ->
  // (N, t, f, c_slow + fusion_channel_ratio * c_fast). Slowfast only.
  Tensor fuse(int64_t s, const Tensor& slow, const Tensor& fast);
  int64_t embedding_size() const { return embedding_size_; }
  // Null for the pathway a slow_only / fast_only model lacks.
  SlowFastPathway* slow() const { return slow_.get(); }
  SlowFastPathway* fast() const { return fast_.get(); }
  const SlowFastNFNetOptions& options() const { return options_; }

 private:
  SlowFastNFNetOptions options_;
  std::vector<double> stage_std_;  // expected std of the stream entering stage s
  std::shared_ptr<SlowFastPathway> slow_, fast_;
  std::vector<std::shared_ptr<nn::UnaryModule>> laterals_;
  nn::Activation activation_;
  int64_t embedding_size_ = 0;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> head_;
  std::shared_ptr<nn::Mlp> projection_;
};

}  // namespace kiln::models
