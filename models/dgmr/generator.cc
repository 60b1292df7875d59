#include "kiln/core/error.h"
#include "kiln/models/dgmr/dgmr.h"
#include "kiln/nn/layers.h"
#include "kiln/ops/random.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models::dgmr {

DgmrOptions dgmr_paper() { return {}; }

DgmrOptions dgmr_small() {
  return {.context_frames = 4,
          .lead_frames = 6,
          .context_channels = 32,
          .latent_channels = 64,
          .latent_input_channels = 2,
          .discriminator_channels = 8,
          .spatial_frames = 4,
          .spatial_blocks = 4,
          .temporal_blocks = 2,
          .temporal_crop = 32};
}

namespace {

BlockOptions generator_block(const DgmrOptions& o) {
  return {.sn_eps = o.generator_sn_eps, .dtype = o.dtype};
}

}  // namespace

ConditioningStack::ConditioningStack(const DgmrOptions& o, Generator& gen)
    : frames_(o.context_frames) {
  const int64_t c = o.context_channels, m = o.context_frames;
  KILN_CHECK(m > 0 && c % 8 == 0 && (c / 4) % m == 0, "dgmr: context_channels ", c,
             " must divide by 8 and C/4 by context_frames ", m);
  int64_t in = 4;  // space-to-depth of one frame
  for (int k = 0; k < 4; ++k) {
    const int64_t state = c >> (3 - k);  // C/8, C/4, C/2, C
    const int64_t per_frame = 2 * state / m;
    blocks_.push_back(register_module(
        "block" + std::to_string(k),
        std::make_shared<DBlock>(
            DBlockOptions{.in = in, .out = per_frame, .block = generator_block(o)}, gen)));
    mixers_.push_back(register_module(
        "mix" + std::to_string(k),
        std::make_shared<Conv>(
            ConvOptions{
                .in = per_frame * m, .out = state, .sn_eps = o.generator_sn_eps, .dtype = o.dtype},
            gen)));
    in = per_frame;
  }
}

std::vector<Tensor> ConditioningStack::forward(const Tensor& context) {
  KILN_CHECK(context.dim() == 5 && context.size(1) == frames_ && context.size(4) == 1,
             "dgmr: context must be (N, ", frames_, ", H, W, 1), got ", shape_str(context.shape()));
  const int64_t n = context.size(0), h = context.size(2), w = context.size(3);
  KILN_CHECK(h % 32 == 0 && w % 32 == 0, "dgmr: frame sizes must divide by 32, got ", h, " x ", w);
  // Every frame alone, shared weights: (N M, H/2, W/2, 4).
  Tensor x = space_to_depth(reshape(context, {n * frames_, h, w, 1}), 2);
  std::vector<Tensor> states;
  for (size_t k = 0; k < blocks_.size(); ++k) {
    x = blocks_[k]->forward(x);  // (N M, h, w, c)
    const int64_t hk = x.size(1), wk = x.size(2), ck = x.size(3);
    // (N, M, h, w, c) -> (N, h, w, M c): the frames side by side in channels.
    const Tensor stacked = reshape(permute(reshape(x, {n, frames_, hk, wk, ck}), {0, 2, 3, 1, 4}),
                                   {n, hk, wk, frames_ * ck});
    states.push_back(relu(mixers_[k]->forward(stacked)));
  }
  return states;
}

LatentStack::LatentStack(const DgmrOptions& o, Generator& gen) {
  const int64_t l = o.latent_channels, z = o.latent_input_channels;
  KILN_CHECK(l % 32 == 0 && l / 32 >= z && (!o.attention || (l / 4) % 8 == 0),
             "dgmr: latent_channels ", l, " must divide by 32 with L/32 >= latent_input_channels ",
             z);
  conv_ = register_module(
      "conv",
      std::make_shared<Conv>(
          ConvOptions{.in = z, .out = z, .sn_eps = o.generator_sn_eps, .dtype = o.dtype}, gen));
  int64_t in = z;
  for (int64_t out : {l / 32, l / 16, l / 4}) {
    blocks_.push_back(register_module(
        "block" + std::to_string(blocks_.size()),
        std::make_shared<LBlock>(LBlockOptions{.in = in, .out = out, .dtype = o.dtype}, gen)));
    in = out;
  }
  if (o.attention) {
    attention_ = register_module(
        "attention", std::make_shared<SpatialAttention>(
                         SpatialAttentionOptions{.channels = in, .dtype = o.dtype}, gen));
  }
  last_ = register_module(
      "block3", std::make_shared<LBlock>(LBlockOptions{.in = in, .out = l, .dtype = o.dtype}, gen));
}

Tensor LatentStack::forward(const Tensor& z) {
  Tensor x = conv_->forward(z);
  for (auto& block : blocks_) x = block->forward(x);
  if (attention_) x = attention_->forward(x);
  return last_->forward(x);
}

Sampler::Sampler(const DgmrOptions& o, Generator& gen) : lead_frames_(o.lead_frames) {
  const int64_t c = o.context_channels, l = o.latent_channels;
  const BlockOptions block = generator_block(o);
  for (int k = 0; k < 4; ++k) {
    const int64_t in = l >> k, state = c >> k;  // coarse to fine
    const std::string name = "level" + std::to_string(k);
    Level level;
    level.gru = register_module(
        name + "_gru",
        std::make_shared<ConvGru>(
            ConvGruOptions{.input_channels = in, .hidden_channels = state, .block = block}, gen));
    level.conv = register_module(
        name + "_conv",
        std::make_shared<Conv>(
            ConvOptions{
                .in = state, .out = in, .kernel = 1, .sn_eps = block.sn_eps, .dtype = o.dtype},
            gen));
    level.block = register_module(
        name + "_block",
        std::make_shared<GBlock>(GBlockOptions{.in = in, .out = in, .block = block}, gen));
    level.up = register_module(
        name + "_up",
        std::make_shared<GBlock>(
            GBlockOptions{.in = in, .out = in / 2, .upsample = true, .block = block}, gen));
    levels_.push_back(level);
  }
  bn_ = register_module("bn", std::make_shared<nn::BatchNorm>(
                                  nn::BatchNormOptions{.channels = l / 16, .dtype = o.dtype}));
  out_ = register_module(
      "out", std::make_shared<Conv>(
                 ConvOptions{
                     .in = l / 16, .out = 4, .kernel = 1, .sn_eps = block.sn_eps, .dtype = o.dtype},
                 gen));
}

Tensor Sampler::forward(const std::vector<Tensor>& states, const Tensor& latent) {
  KILN_CHECK(states.size() == 4, "dgmr::Sampler: needs 4 conditioning states");
  const int64_t n = latent.size(0), t = lead_frames_;
  // Every step's input to the coarsest level is the latent; (T N, h, w, c)
  // holds the T steps of a level, step-major, so the per-step layers run
  // once over all steps.
  std::vector<Tensor> inputs(static_cast<size_t>(t), latent);
  Tensor x;
  for (size_t k = 0; k < levels_.size(); ++k) {
    Level& level = levels_[k];
    Tensor h = states[3 - k];  // (N, h, w, state)
    std::vector<Tensor> hidden;
    for (int64_t s = 0; s < t; ++s) {
      h = level.gru->forward(inputs[static_cast<size_t>(s)], h);
      hidden.push_back(h);
    }
    x = concat(hidden, 0);                                                // (T N, h, w, state)
    x = level.up->forward(level.block->forward(level.conv->forward(x)));  // (T N, 2h, 2w, in/2)
    if (k + 1 < levels_.size()) {
      for (int64_t s = 0; s < t; ++s) inputs[static_cast<size_t>(s)] = narrow(x, 0, s * n, n);
    }
  }
  x = depth_to_space(out_->forward(relu(bn_->forward(x))), 2);  // (T N, H, W, 1)
  const int64_t hh = x.size(1), ww = x.size(2);
  return permute(reshape(x, {t, n, hh, ww, 1}), {1, 0, 2, 3, 4});
}

DgmrGenerator::DgmrGenerator(const DgmrOptions& o, Generator& gen) : options_(o) {
  KILN_CHECK(o.lead_frames > 0, "dgmr: lead_frames must be positive");
  conditioning_ = register_module("conditioning", std::make_shared<ConditioningStack>(o, gen));
  latent_ = register_module("latent", std::make_shared<LatentStack>(o, gen));
  sampler_ = register_module("sampler", std::make_shared<Sampler>(o, gen));
}

Tensor DgmrGenerator::sample_latent(int64_t n, int64_t height, int64_t width,
                                    Generator& gen) const {
  return normal({n, height / 32, width / 32, options_.latent_input_channels}, 0.0, 1.0, gen,
                options_.dtype);
}

Tensor DgmrGenerator::forward(const Tensor& context, const Tensor& z) {
  const std::vector<Tensor> states = conditioning_->forward(context);
  KILN_CHECK(z.dim() == 4 && z.size(0) == context.size(0) && z.size(1) == states[3].size(1) &&
                 z.size(2) == states[3].size(2),
             "dgmr: latent of shape ", shape_str(z.shape()), " does not match the context ",
             shape_str(context.shape()));
  return sampler_->forward(states, latent_->forward(z));
}

}  // namespace kiln::models::dgmr
