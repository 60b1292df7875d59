#include "kiln/models/slowfast_nfnet/slowfast_nfnet.h"

#include "kiln/models/slowfast_nfnet/bn_block.h"
#include "kiln/nn/init.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models {
namespace {

int64_t divided(int64_t channels, int64_t ratio) { return std::max<int64_t>(1, channels / ratio); }

// The fast pathway: the slow recipe with every channel count (and the group
// width, so the group count stays) divided by the channel ratio.
NFNetOptions fast_options(const NFNetOptions& slow, int64_t ratio) {
  NFNetOptions o = slow;
  for (int64_t& c : o.stem_channels) c = divided(c, ratio);
  for (int64_t& w : o.widths) w = divided(w, ratio);
  if (o.group_width > 0) o.group_width = divided(o.group_width, ratio);
  return o;
}

// A conv unit of the chosen normalisation: WSConv2d ("none") or ConvBN.
std::shared_ptr<nn::UnaryModule> conv_unit(bool nf, int64_t in, int64_t out,
                                           std::array<int64_t, 2> kernel,
                                           std::array<int64_t, 2> stride, Generator& gen) {
  if (nf) {
    return std::make_shared<WSConv2d>(
        WSConv2dOptions{.in_channels = in, .out_channels = out, .kernel = kernel, .stride = stride},
        gen);
  }
  return std::make_shared<ConvBN>(
      ConvBNOptions{.in_channels = in, .out_channels = out, .kernel = kernel, .stride = stride},
      gen);
}

}  // namespace

SlowFastNFNetOptions slowfast_nfnet_preset(const std::string& name) {
  SlowFastNFNetOptions o;
  o.slow = nfnet_variant("F0");
  o.slow.in_channels = 1;
  o.slow.num_classes = 0;
  o.slow.stochdepth_rate = 0.0;
  o.slow.dropout = 0.0;
  if (name == "F0") return o;
  KILN_CHECK(name == "tiny", "slowfast_nfnet_preset: unknown preset '", name, "' (F0, tiny)");
  // Two stages of one block each; the fast pathway has 1/4 of the channels.
  o.slow.stem_channels = {8, 16};
  o.slow.stem_strides = {2, 2};
  o.slow.widths = {16, 32};
  o.slow.depths = {1, 1};
  o.slow.strides = {1, 2};
  o.slow.group_width = 8;
  o.slow.final_conv_mult = 1.0;
  o.channel_ratio = 4;
  o.time_stride = 2;
  o.fusion_kernel = 5;
  return o;
}

std::vector<std::string> slowfast_nfnet_preset_names() { return {"F0", "tiny"}; }

SlowFastPathway::SlowFastPathway(int64_t in_channels, const NFNetPlan& plan,
                                 const std::vector<int64_t>& lateral_channels,
                                 const std::string& normalization, const std::string& activation,
                                 Generator& gen, std::shared_ptr<Generator> noise_gen)
    : nf_(normalization == "none"),
      activation_(nf_ ? nf_activation(activation) : nn::activation_by_name(activation)) {
  auto stem = register_module("stem", std::make_shared<ModuleList>());
  int64_t ch = in_channels;
  for (size_t i = 0; i < plan.stem_channels.size(); ++i) {
    const int64_t in = i == 0 ? in_channels : plan.stem_channels[i - 1];
    const int64_t stride = plan.stem_strides[i];
    stem_.push_back(
        stem->add("conv" + std::to_string(i),
                  conv_unit(nf_, in, plan.stem_channels[i], {3, 3}, {stride, stride}, gen)));
    ch = plan.stem_channels[i];
  }
  auto stages = register_module("stages", std::make_shared<ModuleList>());
  for (size_t s = 0; s < plan.stages.size(); ++s) {
    auto blocks = stages->add(std::to_string(s), std::make_shared<ModuleList>())
                      ->add("blocks", std::make_shared<ModuleList>());
    stages_.emplace_back();
    for (size_t b = 0; b < plan.stages[s].size(); ++b) {
      NFBlockOptions o = plan.stages[s][b];
      if (b == 0) o.in_channels = ch + lateral_channels[s];
      std::shared_ptr<nn::UnaryModule> block;
      if (nf_) {
        block = std::make_shared<NFBlock>(o, gen, noise_gen);
      } else {
        block = std::make_shared<BNBlock>(o, gen);
      }
      stages_.back().push_back(blocks->add(std::to_string(b), block));
      ch = o.out_channels;
    }
  }
  final_channels_ = plan.final_channels;
  final_conv_ =
      register_module("final_conv", conv_unit(nf_, ch, final_channels_, {1, 1}, {1, 1}, gen));
}

Tensor SlowFastPathway::stem(const Tensor& x) {
  // NF: the activation between convs, not after the last (the first block
  // applies it), as NFNet. BatchNorm: conv-BN-act throughout, as ResNet.
  Tensor h = x;
  for (size_t i = 0; i < stem_.size(); ++i) {
    if (nf_ && i > 0) h = activation_(h);
    h = stem_[i]->forward(h);
    if (!nf_) h = activation_(h);
  }
  return h;
}

Tensor SlowFastPathway::stage(int64_t s, const Tensor& x) {
  Tensor h = x;
  for (auto& block : stages_[static_cast<size_t>(s)]) h = block->forward(h);
  return h;
}

Tensor SlowFastPathway::final_features(const Tensor& x) {
  // Both normalisations end on act(conv(x)); NF's blocks leave x unactivated,
  // BN's activated, as their final convs expect.
  return mean(activation_(final_conv_->forward(x)), {1, 2});  // (N, final)
}

SlowFastNFNet::SlowFastNFNet(const SlowFastNFNetOptions& options, Generator& gen,
                             std::shared_ptr<Generator> noise_gen)
    : options_(options) {
  const auto& o = options;
  KILN_CHECK(o.pathways == "slowfast" || o.pathways == "slow_only" || o.pathways == "fast_only",
             "SlowFastNFNet: pathways must be slowfast, slow_only or fast_only, got '", o.pathways,
             "'");
  KILN_CHECK(o.normalization == "none" || o.normalization == "batch_norm",
             "SlowFastNFNet: normalization must be none or batch_norm, got '", o.normalization,
             "'");
  KILN_CHECK(
      o.time_stride > 0 && o.channel_ratio > 0 && o.fusion_kernel > 0 && o.fusion_channel_ratio > 0,
      "SlowFastNFNet: time_stride, channel_ratio, fusion_kernel and fusion_channel_ratio "
      "must be positive");
  const bool nf = o.normalization == "none";
  activation_ = nf ? nf_activation(o.slow.activation) : nn::activation_by_name(o.slow.activation);
  NFNetOptions body = o.slow;
  body.num_classes = 1;  // the plan wants a classifier size; ours is optional
  const NFNetPlan slow_plan = nfnet_plan(body);
  const NFNetPlan fast_plan = nfnet_plan(fast_options(body, o.channel_ratio));
  const size_t num_stages = slow_plan.stages.size();
  for (const auto& stage : slow_plan.stages) stage_std_.push_back(1.0 / stage[0].beta);

  const bool use_slow = o.pathways != "fast_only";
  const bool use_fast = o.pathways != "slow_only";
  std::vector<int64_t> lateral_channels(num_stages, 0);
  if (use_fast) {
    fast_ = register_module("fast", std::make_shared<SlowFastPathway>(
                                        o.slow.in_channels, fast_plan, lateral_channels,
                                        o.normalization, o.slow.activation, gen, noise_gen));
    embedding_size_ += fast_->final_channels();
  }
  if (use_slow && use_fast) {
    // One lateral per slow stage, from the fast stream entering the same stage.
    auto laterals = register_module("laterals", std::make_shared<ModuleList>());
    for (size_t s = 0; s < num_stages; ++s) {
      const int64_t fast_in =
          s == 0 ? fast_plan.stem_channels.back() : fast_plan.stages[s - 1].back().out_channels;
      lateral_channels[s] = o.fusion_channel_ratio * fast_in;
      laterals_.push_back(laterals->add(
          std::to_string(s), conv_unit(nf, fast_in, lateral_channels[s], {o.fusion_kernel, 1},
                                       {o.time_stride, 1}, gen)));
    }
  }
  if (use_slow) {
    slow_ = register_module("slow", std::make_shared<SlowFastPathway>(
                                        o.slow.in_channels, slow_plan, lateral_channels,
                                        o.normalization, o.slow.activation, gen, noise_gen));
    embedding_size_ += slow_->final_channels();
  }
  if (!o.projection.empty()) {
    std::vector<int64_t> hidden(o.projection.begin(), o.projection.end() - 1);
    projection_ = register_module(
        "projection", std::make_shared<nn::Mlp>(nn::MlpOptions{.in_features = embedding_size_,
                                                               .hidden = hidden,
                                                               .out_features = o.projection.back(),
                                                               .activation = "relu"},
                                                gen));
  } else if (o.slow.num_classes > 0) {
    dropout_ = register_module("dropout",
                               std::make_shared<nn::Dropout>(o.slow.dropout, std::move(noise_gen)));
    head_ = register_module("head", std::make_shared<nn::Linear>(
                                        nn::LinearOptions{.in_features = embedding_size_,
                                                          .out_features = o.slow.num_classes,
                                                          .weight_init =
                                                              [](const Tensor& w, Generator& g) {
                                                                nn::init::normal_(w, 0.0, 0.01, g);
                                                              }},
                                        gen));
  }
}

Tensor SlowFastNFNet::embed(const Tensor& spectrogram) {
  KILN_CHECK(spectrogram.dim() == 4 && spectrogram.size(3) == options_.slow.in_channels,
             "SlowFastNFNet: expects a (N, T, F, ", options_.slow.in_channels,
             ") spectrogram, got ", shape_str(spectrogram.shape()));
  const int64_t frames = spectrogram.size(1);
  Tensor slow, fast;
  if (slow_) slow = slow_->stem(slice(spectrogram, 1, 0, frames, options_.time_stride));
  if (fast_) fast = fast_->stem(spectrogram);  // (N, T', F', c_fast)
  const auto num_stages = static_cast<int64_t>(stage_std_.size());
  for (int64_t s = 0; s < num_stages; ++s) {
    if (!laterals_.empty()) slow = fuse(s, slow, fast);
    if (slow_) slow = slow_->stage(s, slow);
    if (fast_) fast = fast_->stage(s, fast);
  }
  if (slow_ && fast_) return concat({slow_->final_features(slow), fast_->final_features(fast)}, 1);
  return slow_ ? slow_->final_features(slow) : fast_->final_features(fast);
}

Tensor SlowFastNFNet::fuse(int64_t s, const Tensor& slow, const Tensor& fast) {
  KILN_CHECK(s >= 0 && s < static_cast<int64_t>(laterals_.size()), "SlowFastNFNet: no lateral ", s,
             " (", laterals_.size(), " in a ", options_.pathways, " model)");
  const auto i = static_cast<size_t>(s);
  Tensor lateral;  // (N, t, f, c_lateral)
  if (options_.normalization == "none") {
    // act(fast) * beta in; out scaled to the slow stream's expected std.
    const double std = stage_std_[i];
    lateral = mul_scalar(laterals_[i]->forward(mul_scalar(activation_(fast), 1.0 / std)), std);
  } else {
    lateral = activation_(laterals_[i]->forward(fast));
  }
  KILN_CHECK(lateral.size(0) == slow.size(0) && lateral.size(1) == slow.size(1) &&
                 lateral.size(2) == slow.size(2),
             "SlowFastNFNet: lateral ", s, " gives ", shape_str(lateral.shape()),
             " for the slow stream ", shape_str(slow.shape()));
  return concat({slow, lateral}, 3);
}

Tensor SlowFastNFNet::forward(const Tensor& spectrogram) {
  const Tensor embedding = embed(spectrogram);  // (N, D)
  if (projection_) return projection_->forward(embedding);
  if (head_) return head_->forward(dropout_->forward(embedding));
  return embedding;
}

}  // namespace kiln::models
