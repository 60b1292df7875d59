// The Perceiver (2103.03206) and Perceiver IO (2107.14795), after the
// official code (deepmind-research perceiver/perceiver.py, io_processors.py),
// as one configurable model so that the papers' variants and ablations are
// config switches:
//
//   inputs  = preprocess(x)                                      (B, M, C)
//     images (B, H, W, C): pixels [-> Linear] ++ positions (Fourier, learned
//       or none; concatenated or added);
//     tokens (B, T): embedding + learned positions (added);
//     flow (B, H, W, 2 C): a 3x3 patch of both frames per pixel -> Linear
//       ++ Fourier positions.
//   z       = latents (N, D), learned                            (B, N, D)
//   for block b in 0..num_blocks-1:
//     if b < num_cross_attends: z = CrossAttend_b(z, inputs)
//     for j in 0..num_self_attends_per_block-1: z = SelfAttend_{b,j}(z)
//   outputs = decode(z)
//     mean:           [LN] -> mean over the N latents -> Linear     (B, classes)
//     classification: one learned query cross-attends into z -> Linear
//                     -> (B, classes)
//     mlm:            T learned position queries (or one shared query)
//                     cross-attend into z -> y E^T + bias            (B, T, V)
//     flow:           the preprocessed inputs are the queries -> Linear
//                     (zero init) / rescale                          (B, H, W, out)
//
// Blocks (pre-LN, official CrossAttention / SelfAttention):
//   CrossAttend(q, kv): a = Attn(LN(q), LN(kv)); x = q + a (query residual)
//                       or a; x = x + MLP(LN(x))
//   SelfAttend(x):      x = x + Attn(LN(x), LN(x)); x = x + MLP(LN(x))
//   MLP: Linear(C -> w C), GELU (tanh form, jax.nn.gelu), Linear(-> C).
//   Attn: Linear q, k to qk channels, v to v channels (split over heads),
//   softmax(q k^T / sqrt(qk per head)) v, Linear to the output channels.
//   Cross-attention qk channels default to the key/value input's channels
//   ("shape_for_attn = kv"), v to qk, output to the query's channels.
//
// Weight sharing: with share_blocks the num_self_attends_per_block layers
// are one set reused by every block (the official num_blocks > 1); without,
// every block has its own. Cross-attends after the first share one module
// with share_cross_attends (the Perceiver paper: the first is unshared).
//
// Initialisation (official): attention and MLP linears VarianceScaling(1)
// (truncated normal, stddev 1 / sqrt(fan_in) corrected for truncation);
// latents, queries and learned positions truncated normal stddev 0.02;
// token embeddings truncated normal stddev 1 (hk.Embed); the mean head and
// the flow output zeros; other output linears hk.Linear's default; biases
// and LayerNorm offsets 0, LayerNorm scales 1.
//
// Parameter names: input.embedding.embeddings (V, E), input.position.pos_embs
// (M, P) (learned or trainable Fourier positions), input.position_projection
// .{weight,bias}, input.projection.{weight,bias}; encoder.latents.pos_embs
// (N, D); encoder.cross_attends.<i>.{query_norm,kv_norm,mlp_norm}.{scale,
// offset}, .attention.{query,key,value,output}.{weight,bias},
// .mlp.{linear_0,linear_1}.{weight,bias}; encoder.blocks.<b>.<j>.
// {attention_norm,attention,mlp_norm,mlp}.* (b = 0 only when shared);
// decoder.query.pos_embs, decoder.cross_attend.*, decoder.output.{weight,
// bias}, decoder.final_norm.*, decoder.bias (V) (mlm). Linear weights are
// (in, out).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/models/model.h"
#include "kiln/models/perceiver/position_encoding.h"
#include "kiln/nn/layers.h"

namespace kiln::models {

enum class PerceiverInput {
  kImage,   // (B, H, W, C) f32: one input element per pixel
  kTokens,  // (B, T) integer ids
  kFlow,    // (B, H, W, 2 C) f32: two frames stacked on channels
};
enum class PerceiverPosition { kFourier, kLearned, kNone };
enum class PerceiverDecoder { kMean, kClassification, kMaskedLm, kFlow };

struct PerceiverOptions {
  // ----- input
  PerceiverInput input = PerceiverInput::kImage;
  // Per example: (H, W, C) for images, (T_max) for tokens, (H, W, 2 C) for flow.
  std::vector<int64_t> input_shape = {28, 28, 1};
  int64_t num_classes = 10;  // mean / classification heads
  int64_t vocab_size = 262;  // tokens (the bytes tokenizer)
  int64_t embed_dim = 768;   // tokens: embedding and position width
  // > 0: a Linear from the input features (pixels; flow patches) to this
  // many channels before the positions join (conv1x1 / patches_linear).
  int64_t input_projection = 0;
  PerceiverPosition position = PerceiverPosition::kFourier;
  FourierFeatureOptions fourier;    // images, flow (max_resolution: the image size)
  int64_t position_channels = 258;  // learned positions of images
  double position_init_scale = 0.02;
  // > 0: a Linear from the position features to this many channels
  // (the official PositionEncodingProjector).
  int64_t position_projection = 0;
  // Learned positions are trainable and Fourier features fixed by default;
  // kFixed freezes learned positions (a random buffer), kTrainable makes the
  // Fourier table the initial value of a trainable parameter.
  enum class Training { kDefault, kTrainable, kFixed };
  Training position_training = Training::kDefault;
  bool concat_position = true;  // false: added (the channels must match)
  // Position features of input slot i are those of element
  // position_permutation[i]: a data pipeline that permutes the pixels with
  // the same permutation keeps every pixel with its own position (empty: none).
  std::vector<int64_t> position_permutation;
  // Tokens: PAD (id 0) inputs are masked out of the encoder's cross-attention
  // and their decoder queries' attention is zeroed, as the official input mask.
  bool mask_pad_tokens = true;

  // ----- encoder
  int64_t num_latents = 512;
  int64_t latent_channels = 1024;
  double latent_init_scale = 0.02;
  int64_t num_blocks = 8;
  int64_t num_self_attends_per_block = 6;
  bool share_blocks = true;
  int64_t num_cross_attends = 1;  // blocks 0 .. n-1 begin with a cross-attend
  bool share_cross_attends = true;
  int64_t cross_attend_heads = 1;
  int64_t cross_attend_qk_channels = 0;  // 0: the input channels
  int64_t cross_attend_v_channels = 0;   // 0: qk channels
  int64_t cross_attend_widening = 1;
  bool encoder_query_residual = true;
  int64_t self_attend_heads = 8;
  int64_t self_attend_qk_channels = 0;  // 0: latent channels
  int64_t self_attend_v_channels = 0;   // 0: qk channels
  int64_t self_attend_widening = 1;
  double dropout = 0.0;  // after attention and in the MLPs (official dropout_prob)

  // ----- decoder
  PerceiverDecoder decoder = PerceiverDecoder::kMean;
  bool final_norm = false;        // mean: LayerNorm before averaging
  bool zero_init_head = true;     // mean: zero-initialised head (ProjectionDecoder)
  int64_t query_channels = 1024;  // classification: the query width (mlm: embed_dim)
  bool shared_query = false;      // mlm: one learned query for every position
  int64_t decoder_heads = 1;
  int64_t decoder_qk_channels = 0;  // 0: latent channels
  int64_t decoder_v_channels = 0;   // 0: qk channels
  int64_t decoder_widening = 1;
  bool decoder_query_residual = true;
  int64_t output_channels = 2;  // flow
  double flow_rescale = 100.0;  // flow: outputs divided by this
};

// Checks the options; throws kiln::Error naming the bad option.
void validate_perceiver_options(const PerceiverOptions& options);

// The widths a cross-attention resolves to (official CrossAttention /
// Attention defaults).
struct PerceiverAttentionShape {
  int64_t heads = 1;
  int64_t q_channels = 0;   // query input
  int64_t kv_channels = 0;  // key/value input
  int64_t qk_channels = 0;  // 0: kv_channels
  int64_t v_channels = 0;   // 0: qk_channels
  // The output has q_channels (the official CrossAttention).
};

// Cross-attention block with its MLP. query (B, Nq, q), kv (B, Nk, kv) ->
// (B, Nq, q).
class PerceiverCrossAttention : public nn::Module {
 public:
  PerceiverCrossAttention(const PerceiverAttentionShape& shape, int64_t widening,
                          bool query_residual, double dropout,
                          std::shared_ptr<Generator> dropout_gen, Generator& gen);
  // kv_mask bool (B, Nk), true = attend; query_mask bool (B, Nq): rows
  // with false get no attention output (as the official wipe). Either may
  // be undefined.
  Tensor forward(const Tensor& query, const Tensor& kv, const Tensor& kv_mask = Tensor(),
                 const Tensor& query_mask = Tensor());

 private:
  bool query_residual_;
  std::shared_ptr<nn::LayerNorm> query_norm_, kv_norm_, mlp_norm_;
  std::shared_ptr<nn::MultiHeadAttention> attention_;
  std::shared_ptr<nn::Mlp> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

// Self-attention block: x (B, N, D) -> (B, N, D).
class PerceiverSelfAttention : public nn::Module {
 public:
  PerceiverSelfAttention(int64_t channels, int64_t heads, int64_t qk_channels, int64_t v_channels,
                         int64_t widening, double dropout, std::shared_ptr<Generator> dropout_gen,
                         Generator& gen);
  Tensor forward(const Tensor& x);

 private:
  std::shared_ptr<nn::LayerNorm> attention_norm_, mlp_norm_;
  std::shared_ptr<nn::MultiHeadAttention> attention_;
  std::shared_ptr<nn::Mlp> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

// Latents, cross-attends and latent self-attention blocks.
class PerceiverEncoder : public nn::Module {
 public:
  PerceiverEncoder(const PerceiverOptions& options, int64_t input_channels,
                   std::shared_ptr<Generator> dropout_gen, Generator& gen);
  // inputs (B, M, C), input_mask bool (B, M) or undefined -> z (B, N, D).
  Tensor forward(const Tensor& inputs, const Tensor& input_mask = Tensor());
  // Distinct modules (weight sharing shows here).
  int64_t num_cross_attend_modules() const { return static_cast<int64_t>(cross_attends_.size()); }
  int64_t num_self_attend_modules() const;

 private:
  PerceiverOptions options_;
  std::shared_ptr<TrainablePositionEncoding> latents_;
  std::vector<std::shared_ptr<PerceiverCrossAttention>> cross_attends_;
  // blocks_[b][j]; one row when shared.
  std::vector<std::vector<std::shared_ptr<PerceiverSelfAttention>>> blocks_;
};

class Perceiver : public Model {
 public:
  Perceiver(const PerceiverOptions& options, Generator& gen,
            std::shared_ptr<Generator> dropout_gen);
  // See the file comment for the shapes of each input and decoder.
  Tensor forward(const Tensor& input) override;
  // The preprocessed encoder inputs (B, M, C) and, for tokens with PAD
  // masking, the mask bool (B, M) (else undefined).
  std::pair<Tensor, Tensor> preprocess(const Tensor& input);
  // Channels of the preprocessed inputs.
  int64_t input_channels() const { return input_channels_; }
  const PerceiverOptions& options() const { return options_; }
  PerceiverEncoder& encoder() { return *encoder_; }

 private:
  Tensor decode(const Tensor& z, const Tensor& inputs, const Tensor& input_mask);

  PerceiverOptions options_;
  int64_t input_channels_ = 0;
  // Input.
  std::shared_ptr<nn::Module> input_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::Linear> projection_, position_projection_;
  std::shared_ptr<TrainablePositionEncoding> position_;
  Tensor fixed_positions_;  // (M, P) fixed Fourier features (not a parameter)
  // Encoder and decoder.
  std::shared_ptr<PerceiverEncoder> encoder_;
  std::shared_ptr<nn::Module> decoder_;
  std::shared_ptr<TrainablePositionEncoding> query_;
  std::shared_ptr<PerceiverCrossAttention> decoder_attention_;
  std::shared_ptr<nn::LayerNorm> final_norm_;
  std::shared_ptr<nn::Linear> output_;
  Tensor output_bias_;  // mlm (V)
};

// The papers' published configurations by name (the input shape and class
// count come with them): "imagenet" (the Perceiver, 2103.03206: 8
// cross-attends, the first unshared, 6 shared latent layers), "io_imagenet"
// (Perceiver IO, 2D Fourier features on raw pixels), "io_language"
// (Perceiver IO Base on UTF-8 bytes, the masked LM) and "io_flow" (optical
// flow, 368 x 496 frame pairs).
PerceiverOptions perceiver_preset(const std::string& name);
std::vector<std::string> perceiver_preset_names();

// patches_for_flow + the temporal space-to-depth of the official flow
// preprocessing: x (B, H, W, 2 C) -> (B, H, W, 2 * 9 C) with channel order
// (frame, patch row, patch column, channel), zero padding at the borders.
Tensor flow_patches(const Tensor& x);

}  // namespace kiln::models
