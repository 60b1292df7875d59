#include <algorithm>
#include <numeric>

#include "kiln/core/error.h"
#include "kiln/models/dgmr/dgmr.h"
#include "kiln/nn/layers.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/random.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models::dgmr {
namespace {

// A uniform integer in [0, n) from `gen`.
int64_t draw_below(int64_t n, Generator& gen) {
  return static_cast<int64_t>(to_vector(randint({1}, 0, n, gen))[0]);
}

}  // namespace

DiscriminatorHead::DiscriminatorHead(int64_t in, int64_t channels, int64_t blocks, bool first_relu,
                                     const BlockOptions& block, Generator& gen) {
  int64_t c = in;
  for (int64_t k = 0; k <= blocks; ++k) {
    const bool last = k == blocks;
    const int64_t out = last ? c : channels << k;
    blocks_.push_back(
        register_module("block" + std::to_string(k),
                        std::make_shared<DBlock>(DBlockOptions{.in = c,
                                                               .out = out,
                                                               .first_relu = first_relu || k > 0,
                                                               .downsample = !last,
                                                               .block = block},
                                                 gen)));
    c = out;
  }
  bn_ = register_module("bn", std::make_shared<nn::BatchNorm>(
                                  nn::BatchNormOptions{.channels = c, .dtype = block.dtype}));
  linear_ = register_module(
      "linear",
      std::make_shared<Conv>(
          ConvOptions{.in = c, .out = 1, .rank = 0, .sn_eps = block.sn_eps, .dtype = block.dtype},
          gen));
}

Tensor DiscriminatorHead::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& block : blocks_) h = block->forward(h);
  h = sum(relu(h), {1, 2});                                 // (N, C): sum pooling
  return reshape(linear_->forward(bn_->forward(h)), {-1});  // (N)
}

SpatialDiscriminator::SpatialDiscriminator(const DgmrOptions& o, Generator& gen)
    : frames_(o.spatial_frames) {
  KILN_CHECK(o.spatial_frames > 0 && o.spatial_blocks > 0,
             "dgmr: spatial_frames and spatial_blocks must be positive");
  head_ = register_module("head", std::make_shared<DiscriminatorHead>(
                                      4, o.discriminator_channels, o.spatial_blocks,
                                      /*first_relu=*/false, BlockOptions{.dtype = o.dtype}, gen));
}

Tensor SpatialDiscriminator::forward(const Tensor& frames, Generator& gen) {
  const int64_t t = frames.size(1);
  // frames_ distinct frames (all of them when there are fewer).
  std::vector<int64_t> order(static_cast<size_t>(t));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = t - 1; i > 0; --i) std::swap(order[i], order[draw_below(i + 1, gen)]);
  order.resize(static_cast<size_t>(std::min(frames_, t)));
  return forward(frames, order);
}

Tensor SpatialDiscriminator::forward(const Tensor& frames, const std::vector<int64_t>& chosen) {
  KILN_CHECK(frames.dim() == 5 && frames.size(4) == 1,
             "dgmr: the spatial discriminator needs frames (N, T, H, W, 1), got ",
             shape_str(frames.shape()));
  const int64_t n = frames.size(0), s = static_cast<int64_t>(chosen.size());
  const int64_t h = frames.size(2), w = frames.size(3);
  const Tensor picked = index_select(frames, 1, from_vector(chosen, {s}));  // (N, S, H, W, 1)
  Tensor x = avg_pool2d(reshape(picked, {n * s, h, w, 1}), {});             // (N S, H/2, W/2, 1)
  x = space_to_depth(x, 2);                                                 // (N S, H/4, W/4, 4)
  return sum(reshape(head_->forward(x), {n, s}), {1});                      // (N)
}

TemporalDiscriminator::TemporalDiscriminator(const DgmrOptions& o, Generator& gen)
    : crop_(o.temporal_crop) {
  const int64_t c = o.discriminator_channels;
  const BlockOptions block{.dtype = o.dtype};
  block1_ = register_module(
      "block3d_0",
      std::make_shared<DBlock>(
          DBlockOptions{.in = 4, .out = c, .rank = 3, .first_relu = false, .block = block}, gen));
  block2_ = register_module(
      "block3d_1", std::make_shared<DBlock>(
                       DBlockOptions{.in = c, .out = 2 * c, .rank = 3, .block = block}, gen));
  head_ = register_module("head", std::make_shared<DiscriminatorHead>(
                                      2 * c, 4 * c, o.temporal_blocks, true, block, gen));
}

Tensor TemporalDiscriminator::forward(const Tensor& sequence, Generator& gen) {
  const int64_t h = sequence.size(2), w = sequence.size(3);
  if (crop_ <= 0 || (crop_ >= h && crop_ >= w)) return forward(sequence, 0, 0);
  const int64_t top = draw_below(h - std::min(crop_, h) + 1, gen);
  const int64_t left = draw_below(w - std::min(crop_, w) + 1, gen);
  return forward(sequence, top, left);
}

Tensor TemporalDiscriminator::forward(const Tensor& sequence, int64_t top, int64_t left) {
  KILN_CHECK(sequence.dim() == 5 && sequence.size(4) == 1,
             "dgmr: the temporal discriminator needs a sequence (N, T, H, W, 1), got ",
             shape_str(sequence.shape()));
  const int64_t n = sequence.size(0), t = sequence.size(1);
  const int64_t ch = crop_ > 0 ? std::min(crop_, sequence.size(2)) : sequence.size(2);
  const int64_t cw = crop_ > 0 ? std::min(crop_, sequence.size(3)) : sequence.size(3);
  const Tensor crop = narrow(narrow(sequence, 2, top, ch), 3, left, cw);  // (N, T, ch, cw, 1)
  Tensor x = space_to_depth(reshape(contiguous(crop), {n * t, ch, cw, 1}), 2);
  x = reshape(x, {n, t, ch / 2, cw / 2, 4});  // volume (N, D = T, h, w, 4)
  x = block2_->forward(block1_->forward(x));  // (N, T/4, h/4, w/4, 2 D)
  const int64_t d = x.size(1);
  KILN_CHECK(d > 0, "dgmr: the temporal discriminator needs at least 4 frames, got ", t);
  x = reshape(x, {n * d, x.size(2), x.size(3), x.size(4)});
  return sum(reshape(head_->forward(x), {n, d}), {1});  // (N)
}

DgmrDiscriminator::DgmrDiscriminator(const DgmrOptions& o, Generator& gen) {
  spatial_ = register_module("spatial", std::make_shared<SpatialDiscriminator>(o, gen));
  temporal_ = register_module("temporal", std::make_shared<TemporalDiscriminator>(o, gen));
}

Tensor DgmrDiscriminator::forward(const Tensor& context, const Tensor& lead, Generator& gen) {
  const Tensor sequence = concat({context, lead}, 1);  // (N, M + T, H, W, 1)
  return add(spatial_->forward(lead, gen), temporal_->forward(sequence, gen));
}

Dgmr::Dgmr(const DgmrOptions& o, Generator& init_gen, std::shared_ptr<Generator> noise_gen)
    : options_(o), noise_(std::move(noise_gen)) {
  KILN_CHECK(noise_ != nullptr, "dgmr: needs a noise generator");
  generator_ = register_module("generator", std::make_shared<DgmrGenerator>(o, init_gen));
  discriminator_ =
      register_module("discriminator", std::make_shared<DgmrDiscriminator>(o, init_gen));
}

Tensor Dgmr::forward(const Tensor& frames) {
  KILN_CHECK(frames.dim() == 5 && frames.size(1) >= options_.context_frames,
             "dgmr: frames must be (N, T >= ", options_.context_frames, ", H, W, 1), got ",
             shape_str(frames.shape()));
  const Tensor context = narrow(frames, 1, 0, options_.context_frames);
  const Tensor z =
      generator_->sample_latent(frames.size(0), frames.size(2), frames.size(3), *noise_);
  return generator_->forward(contiguous(context), z);
}

}  // namespace kiln::models::dgmr
