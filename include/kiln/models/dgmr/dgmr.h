// DGMR: "Skilful precipitation nowcasting using deep generative models of
// radar" (2104.00954). A generator G(Z; X_context) sampling the lead frames
// from the context frames and a Gaussian latent, a spatial discriminator
// (random frames) and a temporal discriminator (random crop, 3-D convs).
//
// Frames are rain rates in mm/h, channels-last: sequences (N, T, H, W, 1).
// Sizes for 256 x 256 frames with the defaults (the paper's): conditioning
// states 64^2 x 48, 32^2 x 96, 16^2 x 192, 8^2 x 384; latent 8^2 x 8 ->
// 8^2 x 768. Every channel count scales with the options.
#pragma once

#include <memory>
#include <vector>

#include "kiln/models/dgmr/layers.h"
#include "kiln/models/model.h"

namespace kiln::models::dgmr {

struct DgmrOptions {
  int64_t context_frames = 4;  // M
  int64_t lead_frames = 18;    // predicted frames
  // Generator. context_channels C: the coarsest conditioning state (the
  // finer ones have C/2, C/4, C/8); latent_channels L: the latent stack's
  // output (the sampler's levels have L, L/2, L/4, L/8 and the output L/16).
  int64_t context_channels = 384;
  int64_t latent_channels = 768;
  int64_t latent_input_channels = 8;  // Z (N, H/32, W/32, 8)
  bool attention = true;              // the latent stack's self-attention
  double generator_sn_eps = 1e-4;
  // Discriminators: D-blocks of discriminator_channels, doubling.
  int64_t discriminator_channels = 48;
  int64_t spatial_frames = 8;   // frames the spatial discriminator scores
  int64_t spatial_blocks = 5;   // its downsampling D-blocks (48 ... 768)
  int64_t temporal_blocks = 3;  // 2-D D-blocks after the two 3-D ones
  int64_t temporal_crop = 128;  // crop side; 0 or >= the frame: no crop
  DType dtype = DType::kF32;
};

// The paper's sizes (generator 52.8M parameters, discriminators 43.5M),
// and a small version for CPU (64 x 64 frames, 4 + 6; 0.37M and 0.31M).
DgmrOptions dgmr_paper();
DgmrOptions dgmr_small();

// Four conditioning states from the context frames: per frame (shared
// weights) space-to-depth x2 and four D-blocks; per scale the frames'
// features concatenated along channels, then SN conv3x3 halving them, ReLU.
class ConditioningStack : public nn::Module {
 public:
  ConditioningStack(const DgmrOptions& options, Generator& gen);
  // context (N, M, H, W, 1) -> states fine to coarse:
  // (N, H/4, W/4, C/8), (N, H/8, W/8, C/4), (N, H/16, W/16, C/2), (N, H/32, W/32, C).
  std::vector<Tensor> forward(const Tensor& context);

 private:
  int64_t frames_;
  std::vector<std::shared_ptr<DBlock>> blocks_;
  std::vector<std::shared_ptr<Conv>> mixers_;
};

// Z -> SN conv3x3 -> L-blocks (L/32, L/16, L/4) -> attention -> L-block (L).
class LatentStack : public nn::Module {
 public:
  LatentStack(const DgmrOptions& options, Generator& gen);
  // z (N, h, w, Zc) -> (N, h, w, L).
  Tensor forward(const Tensor& z);

 private:
  std::shared_ptr<Conv> conv_;
  std::vector<std::shared_ptr<LBlock>> blocks_;
  std::shared_ptr<SpatialAttention> attention_;
  std::shared_ptr<LBlock> last_;
};

// Four ConvGRU levels, coarse to fine, each followed by SN conv1x1, a
// G-block and an upsampling G-block; output BN -> ReLU -> SN conv1x1 (4) ->
// depth-to-space x2.
class Sampler : public nn::Module {
 public:
  Sampler(const DgmrOptions& options, Generator& gen);
  // states as ConditioningStack's, latent (N, H/32, W/32, L) -> (N, T, H, W, 1).
  Tensor forward(const std::vector<Tensor>& states, const Tensor& latent);

 private:
  struct Level {
    std::shared_ptr<ConvGru> gru;
    std::shared_ptr<Conv> conv;
    std::shared_ptr<GBlock> block, up;
  };
  int64_t lead_frames_;
  std::vector<Level> levels_;
  std::shared_ptr<nn::BatchNorm> bn_;
  std::shared_ptr<Conv> out_;
};

class DgmrGenerator : public nn::Module {
 public:
  DgmrGenerator(const DgmrOptions& options, Generator& gen);
  // context (N, M, H, W, 1), z (N, H/32, W/32, Zc) -> (N, T, H, W, 1).
  Tensor forward(const Tensor& context, const Tensor& z);
  // A fresh latent per sample, from `gen`.
  Tensor sample_latent(int64_t n, int64_t height, int64_t width, Generator& gen) const;
  const DgmrOptions& options() const { return options_; }

 private:
  DgmrOptions options_;
  std::shared_ptr<ConditioningStack> conditioning_;
  std::shared_ptr<LatentStack> latent_;
  std::shared_ptr<Sampler> sampler_;
};

// Per image: D-blocks, ReLU, sum over space, BN, SN linear -> a score.
// The head shared by both discriminators.
class DiscriminatorHead : public nn::Module {
 public:
  DiscriminatorHead(int64_t in, int64_t channels, int64_t blocks, bool first_relu,
                    const BlockOptions& block, Generator& gen);
  // (N, H, W, in) -> (N); `blocks` downsampling D-blocks then one without.
  Tensor forward(const Tensor& x);

 private:
  std::vector<std::shared_ptr<DBlock>> blocks_;
  std::shared_ptr<nn::BatchNorm> bn_;
  std::shared_ptr<Conv> linear_;
};

// Scores spatial_frames random lead frames (the same for the whole batch),
// each 2x average-pooled and space-to-depth'd; summed over the frames.
class SpatialDiscriminator : public nn::Module {
 public:
  SpatialDiscriminator(const DgmrOptions& options, Generator& gen);
  // frames (N, T, H, W, 1) -> (N); frame choice from `gen`.
  Tensor forward(const Tensor& frames, Generator& gen);
  // With the frames given (indices into T).
  Tensor forward(const Tensor& frames, const std::vector<int64_t>& chosen);

 private:
  int64_t frames_;
  std::shared_ptr<DiscriminatorHead> head_;
};

// Scores a random crop (the same for the whole batch) of the whole sequence
// (context + lead): space-to-depth, two 3-D D-blocks (halving T, H and W),
// then per time slice the 2-D head; summed over time.
class TemporalDiscriminator : public nn::Module {
 public:
  TemporalDiscriminator(const DgmrOptions& options, Generator& gen);
  // sequence (N, T, H, W, 1) -> (N); crop offsets from `gen`.
  Tensor forward(const Tensor& sequence, Generator& gen);
  // With the crop's top-left corner given.
  Tensor forward(const Tensor& sequence, int64_t top, int64_t left);

 private:
  int64_t crop_;
  std::shared_ptr<DBlock> block1_, block2_;
  std::shared_ptr<DiscriminatorHead> head_;
};

// Both discriminators (module names "spatial" and "temporal").
class DgmrDiscriminator : public nn::Module {
 public:
  DgmrDiscriminator(const DgmrOptions& options, Generator& gen);
  // context (N, M, H, W, 1), lead (N, T, H, W, 1) -> spatial + temporal
  // scores (N): the spatial one sees the lead frames only.
  Tensor forward(const Tensor& context, const Tensor& lead, Generator& gen);
  SpatialDiscriminator& spatial() { return *spatial_; }
  TemporalDiscriminator& temporal() { return *temporal_; }

 private:
  std::shared_ptr<SpatialDiscriminator> spatial_;
  std::shared_ptr<TemporalDiscriminator> temporal_;
};

// The registry's model: the generator ("generator") and both discriminators
// ("discriminator"). forward() maps a sequence (N, T >= M, H, W, 1) to one
// sample of the lead frames from its first M frames (N, lead, H, W, 1).
class Dgmr : public Model {
 public:
  Dgmr(const DgmrOptions& options, Generator& init_gen, std::shared_ptr<Generator> noise_gen);
  Tensor forward(const Tensor& frames) override;
  DgmrGenerator& generator() { return *generator_; }
  DgmrDiscriminator& discriminator() { return *discriminator_; }
  Generator& noise() { return *noise_; }
  const DgmrOptions& options() const { return options_; }

 private:
  DgmrOptions options_;
  std::shared_ptr<DgmrGenerator> generator_;
  std::shared_ptr<DgmrDiscriminator> discriminator_;
  std::shared_ptr<Generator> noise_;  // latents, frame choice, crops
};

// Losses. Scores are (N).
// Hinge loss of a discriminator: mean(relu(1 - real)) + mean(relu(1 + fake)).
Tensor hinge_discriminator_loss(const Tensor& real_scores, const Tensor& fake_scores);
// The generator's adversarial loss: -mean(fake).
Tensor hinge_generator_loss(const Tensor& fake_scores);
// Weights of the grid-cell regulariser: clip(y, min_weight, 24).
Tensor rain_weight(const Tensor& truth, double min_weight = 0.0);
// The grid-cell regulariser: mean over (N, T, H, W) of
// |mean over samples - truth| * rain_weight(truth). samples (S, N, T, H, W, 1),
// truth (N, T, H, W, 1).
Tensor grid_cell_regulariser(const Tensor& samples, const Tensor& truth, double min_weight = 0.0);

}  // namespace kiln::models::dgmr
