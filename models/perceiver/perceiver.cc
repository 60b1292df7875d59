// The Perceiver / Perceiver IO model: input preprocessing, encoder, decoders.
#include "kiln/models/perceiver/perceiver.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "kiln/models/perceiver/bytes_tokenizer.h"
#include "kiln/nn/init.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "perceiver_util.h"

namespace kiln::models {
namespace {

using perceiver::ModuleGroup;

void zero_init(const Tensor& w, Generator& /*gen*/) { nn::init::zeros_(w); }

std::string dims_str(const std::vector<int64_t>& dims) {
  return "[" + absl::StrJoin(dims, ", ") + "]";
}

int64_t product(const std::vector<int64_t>& dims, size_t count) {
  int64_t n = 1;
  for (size_t i = 0; i < count; ++i) n *= dims[i];
  return n;
}

// The spatial dims of image and flow inputs.
std::vector<int64_t> spatial_dims(const PerceiverOptions& o) {
  return {o.input_shape[0], o.input_shape[1]};
}

bool trainable_positions(const PerceiverOptions& o) {
  using T = PerceiverOptions::Training;
  if (o.position_training == T::kDefault) return o.position == PerceiverPosition::kLearned;
  return o.position_training == T::kTrainable;
}

// True if any id equals PAD (ids contiguous or not).
bool has_pad(const Tensor& ids) {
  for (double v : to_vector(ids)) {
    if (v == static_cast<double>(bytes_tokenizer::kPad)) return true;
  }
  return false;
}

}  // namespace

void validate_perceiver_options(const PerceiverOptions& o) {
  const bool tokens = o.input == PerceiverInput::kTokens;
  const bool flow = o.input == PerceiverInput::kFlow;
  if (tokens) {
    KILN_CHECK(o.input_shape.size() == 1 && o.input_shape[0] > 0,
               "Perceiver: token inputs need input_shape (T), got ", dims_str(o.input_shape));
    KILN_CHECK(o.vocab_size > 0 && o.embed_dim > 0,
               "Perceiver: vocab_size and embed_dim must be positive");
    KILN_CHECK(o.position != PerceiverPosition::kFourier,
               "Perceiver: token inputs take learned positions or none, not fourier");
    KILN_CHECK(o.input_projection == 0 && o.position_projection == 0,
               "Perceiver: input_projection and position_projection apply to images and flow");
  } else {
    KILN_CHECK(o.input_shape.size() == 3 && o.input_shape[0] > 0 && o.input_shape[1] > 0 &&
                   o.input_shape[2] > 0,
               "Perceiver: image inputs need input_shape (H, W, C), got ", dims_str(o.input_shape));
  }
  if (flow) {
    KILN_CHECK(o.input_shape[2] % 2 == 0,
               "Perceiver: flow inputs stack two frames on channels; channels ", o.input_shape[2],
               " must be even");
  }
  KILN_CHECK(o.input_projection >= 0 && o.position_projection >= 0 && o.position_channels > 0 &&
                 o.position_init_scale >= 0,
             "Perceiver: input_projection, position_projection must be >= 0 and "
             "position_channels positive");
  if (o.position == PerceiverPosition::kFourier) {
    KILN_CHECK(o.fourier.num_bands >= 1, "Perceiver: fourier num_bands must be >= 1");
    KILN_CHECK(o.fourier.max_resolution.empty() || o.fourier.max_resolution.size() == 2,
               "Perceiver: fourier max_resolution needs one entry per spatial axis (2)");
  }
  if (!o.position_permutation.empty()) {
    KILN_CHECK(!tokens, "Perceiver: position_permutation applies to image inputs");
    const int64_t m = product(o.input_shape, 2);
    KILN_CHECK(static_cast<int64_t>(o.position_permutation.size()) == m,
               "Perceiver: position_permutation has ", o.position_permutation.size(),
               " entries for ", m, " pixels");
    std::vector<bool> seen(static_cast<size_t>(m), false);
    for (int64_t i : o.position_permutation) {
      KILN_CHECK(i >= 0 && i < m && !seen[static_cast<size_t>(i)],
                 "Perceiver: position_permutation is not a permutation of 0..", m - 1);
      seen[static_cast<size_t>(i)] = true;
    }
  }
  KILN_CHECK(o.num_latents > 0 && o.latent_channels > 0 && o.latent_init_scale >= 0,
             "Perceiver: num_latents and latent_channels must be positive");
  KILN_CHECK(o.num_blocks >= 1 && o.num_self_attends_per_block >= 0,
             "Perceiver: num_blocks must be >= 1 and num_self_attends_per_block >= 0");
  KILN_CHECK(o.num_cross_attends >= 1 && o.num_cross_attends <= o.num_blocks,
             "Perceiver: num_cross_attends ", o.num_cross_attends, " must be in [1, num_blocks ",
             o.num_blocks, "]");
  KILN_CHECK(o.cross_attend_heads > 0 && o.self_attend_heads > 0 && o.decoder_heads > 0,
             "Perceiver: head counts must be positive");
  KILN_CHECK(o.cross_attend_widening > 0 && o.self_attend_widening > 0 && o.decoder_widening > 0,
             "Perceiver: widening factors must be positive");
  KILN_CHECK(o.dropout >= 0 && o.dropout < 1, "Perceiver: dropout must be in [0, 1)");
  const int64_t self_qk =
      o.self_attend_qk_channels > 0 ? o.self_attend_qk_channels : o.latent_channels;
  KILN_CHECK(self_qk % o.self_attend_heads == 0, "Perceiver: self-attention qk channels ", self_qk,
             " must be divisible by self_attend_heads ", o.self_attend_heads);
  switch (o.decoder) {
    case PerceiverDecoder::kMean:
    case PerceiverDecoder::kClassification:
      KILN_CHECK(o.num_classes > 0, "Perceiver: num_classes must be positive");
      KILN_CHECK(o.decoder == PerceiverDecoder::kMean || o.query_channels > 0,
                 "Perceiver: query_channels must be positive");
      break;
    case PerceiverDecoder::kMaskedLm:
      KILN_CHECK(tokens, "Perceiver: the mlm decoder needs token inputs");
      break;
    case PerceiverDecoder::kFlow:
      KILN_CHECK(!tokens, "Perceiver: the flow decoder needs image or flow inputs");
      KILN_CHECK(o.output_channels > 0 && o.flow_rescale > 0,
                 "Perceiver: output_channels and flow_rescale must be positive");
      break;
  }
}

Perceiver::Perceiver(const PerceiverOptions& options, Generator& gen,
                     std::shared_ptr<Generator> dropout_gen)
    : options_(options) {
  validate_perceiver_options(options_);
  const PerceiverOptions& o = options_;
  auto input = register_module("input", std::make_shared<ModuleGroup>());
  input_ = input;

  // ----- input preprocessing and its width
  if (o.input == PerceiverInput::kTokens) {
    embedding_ = input->add(
        "embedding",
        std::make_shared<nn::Embedding>(
            nn::EmbeddingOptions{.num_embeddings = o.vocab_size, .dim = o.embed_dim}, gen));
    if (o.position == PerceiverPosition::kLearned) {
      position_ = input->add("position", std::make_shared<TrainablePositionEncoding>(
                                             o.input_shape[0], o.embed_dim, o.position_init_scale,
                                             gen, trainable_positions(o)));
    }
    input_channels_ = o.embed_dim;
  } else {
    const bool flow = o.input == PerceiverInput::kFlow;
    const int64_t raw = flow ? 9 * o.input_shape[2] : o.input_shape[2];
    int64_t features = raw;
    if (o.input_projection > 0) {
      projection_ = input->add(
          "projection",
          std::make_shared<nn::Linear>(
              nn::LinearOptions{.in_features = raw, .out_features = o.input_projection}, gen));
      features = o.input_projection;
    }
    const int64_t m = product(o.input_shape, 2);
    int64_t pos_channels = 0;
    if (o.position == PerceiverPosition::kFourier) {
      Tensor table = fourier_position_encoding(spatial_dims(o), o.fourier);  // (M, P)
      if (!o.position_permutation.empty()) {
        table = index_select(table, 0, from_vector(o.position_permutation, {m}));
      }
      pos_channels = table.size(1);
      if (trainable_positions(o)) {
        position_ = input->add("position", std::make_shared<TrainablePositionEncoding>(
                                               m, pos_channels, 0.0, gen, true));
        copy_into(position_->table(), table);
      } else {
        fixed_positions_ = table;
      }
    } else if (o.position == PerceiverPosition::kLearned) {
      position_ = input->add("position", std::make_shared<TrainablePositionEncoding>(
                                             m, o.position_channels, o.position_init_scale, gen,
                                             trainable_positions(o)));
      pos_channels = o.position_channels;
    }
    if (o.position_projection > 0 && pos_channels > 0) {
      position_projection_ = input->add(
          "position_projection",
          std::make_shared<nn::Linear>(
              nn::LinearOptions{.in_features = pos_channels, .out_features = o.position_projection},
              gen));
      pos_channels = o.position_projection;
    }
    if (o.concat_position || pos_channels == 0) {
      input_channels_ = features + pos_channels;
    } else {
      KILN_CHECK(features == pos_channels, "Perceiver: added positions need as many channels (",
                 pos_channels, ") as the input features (", features, ")");
      input_channels_ = features;
    }
  }

  encoder_ = register_module(
      "encoder", std::make_shared<PerceiverEncoder>(o, input_channels_, dropout_gen, gen));

  // ----- decoder
  auto decoder = register_module("decoder", std::make_shared<ModuleGroup>());
  decoder_ = decoder;
  const int64_t d = o.latent_channels;
  auto cross_attend = [&](int64_t q_channels, bool residual) {
    return decoder->add("cross_attend",
                        std::make_shared<PerceiverCrossAttention>(
                            PerceiverAttentionShape{.heads = o.decoder_heads,
                                                    .q_channels = q_channels,
                                                    .kv_channels = d,
                                                    .qk_channels = o.decoder_qk_channels,
                                                    .v_channels = o.decoder_v_channels},
                            o.decoder_widening, residual, 0.0, nullptr, gen));
  };
  switch (o.decoder) {
    case PerceiverDecoder::kMean:
      if (o.final_norm) {
        final_norm_ = decoder->add(
            "final_norm", std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.size = d}));
      }
      output_ = decoder->add(
          "output",
          std::make_shared<nn::Linear>(
              nn::LinearOptions{
                  .in_features = d,
                  .out_features = o.num_classes,
                  .weight_init = o.zero_init_head ? nn::Initializer(zero_init) : nn::Initializer()},
              gen));
      break;
    case PerceiverDecoder::kClassification:
      query_ = decoder->add(
          "query", std::make_shared<TrainablePositionEncoding>(1, o.query_channels, 0.02, gen));
      decoder_attention_ = cross_attend(o.query_channels, o.decoder_query_residual);
      output_ = decoder->add(
          "output", std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = o.query_channels,
                                                                   .out_features = o.num_classes},
                                                 gen));
      break;
    case PerceiverDecoder::kMaskedLm:
      query_ =
          decoder->add("query", std::make_shared<TrainablePositionEncoding>(
                                    o.shared_query ? 1 : o.input_shape[0], o.embed_dim, 0.02, gen));
      decoder_attention_ = cross_attend(o.embed_dim, o.decoder_query_residual);
      output_bias_ = decoder->add_parameter("bias", zeros({o.vocab_size}));
      break;
    case PerceiverDecoder::kFlow:
      decoder_attention_ = cross_attend(input_channels_, o.decoder_query_residual);
      output_ = decoder->add("output", std::make_shared<nn::Linear>(
                                           nn::LinearOptions{.in_features = input_channels_,
                                                             .out_features = o.output_channels,
                                                             .weight_init = zero_init},
                                           gen));
      break;
  }
}

std::pair<Tensor, Tensor> Perceiver::preprocess(const Tensor& input) {
  const PerceiverOptions& o = options_;
  if (o.input == PerceiverInput::kTokens) {
    KILN_CHECK(input.dim() == 2 && !is_floating(input.dtype()) && input.size(1) >= 1 &&
                   input.size(1) <= o.input_shape[0],
               "Perceiver: tokens must be (B, T) integers with 1 <= T <= ", o.input_shape[0],
               ", got ", shape_str(input.shape()), " ", dtype_name(input.dtype()));
    const int64_t t = input.size(1);
    Tensor x = embedding_->forward(input);  // (B, T, E)
    if (position_) x = add(x, narrow(position_->table(), 0, 0, t));
    Tensor mask;
    if (o.mask_pad_tokens && has_pad(input)) mask = ne(input, scalar_tensor(0, input.dtype()));
    return {x, mask};
  }
  const bool flow = o.input == PerceiverInput::kFlow;
  KILN_CHECK(input.dim() == 4 && input.dtype() == DType::kF32 &&
                 input.size(1) == o.input_shape[0] && input.size(2) == o.input_shape[1] &&
                 input.size(3) == o.input_shape[2],
             "Perceiver: ", flow ? "frame pairs" : "images", " must be (B, ", o.input_shape[0],
             ", ", o.input_shape[1], ", ", o.input_shape[2], ") f32, got ",
             shape_str(input.shape()), " ", dtype_name(input.dtype()));
  const int64_t b = input.size(0), m = product(o.input_shape, 2);
  Tensor features = flow ? flow_patches(input) : input;
  features = reshape(features, {b, m, features.size(3)});  // (B, M, C)
  if (projection_) features = projection_->forward(features);
  Tensor pos;  // (M, P)
  if (fixed_positions_.defined()) pos = fixed_positions_;
  if (position_) pos = position_->table();
  if (!pos.defined()) return {features, Tensor()};
  if (position_projection_) pos = position_projection_->forward(pos);
  if (!o.concat_position) return {add(features, pos), Tensor()};
  pos = expand(unsqueeze(pos, 0), {b, m, pos.size(1)});
  return {concat({features, pos}, -1), Tensor()};
}

Tensor Perceiver::forward(const Tensor& input) {
  auto [inputs, mask] = preprocess(input);
  const Tensor z = encoder_->forward(inputs, mask);
  return decode(z, inputs, mask);
}

Tensor Perceiver::decode(const Tensor& z, const Tensor& inputs, const Tensor& input_mask) {
  const PerceiverOptions& o = options_;
  const int64_t b = z.size(0);
  switch (o.decoder) {
    case PerceiverDecoder::kMean: {
      const Tensor h = final_norm_ ? final_norm_->forward(z) : z;
      return output_->forward(mean(h, {1}));  // (B, classes)
    }
    case PerceiverDecoder::kClassification: {
      const Tensor y = decoder_attention_->forward(query_->forward(b), z);  // (B, 1, Q)
      return reshape(output_->forward(y), {b, o.num_classes});
    }
    case PerceiverDecoder::kMaskedLm: {
      const int64_t t = inputs.size(1);
      // (T, E) position queries, or one (1, E) query broadcast to every position.
      const Tensor table = o.shared_query ? query_->table() : narrow(query_->table(), 0, 0, t);
      const Tensor queries = expand(unsqueeze(table, 0), {b, t, o.embed_dim});
      const Tensor y = decoder_attention_->forward(queries, z, Tensor(), input_mask);  // (B, T, E)
      // Tied output embedding: y E^T + bias (the official EmbeddingDecoder).
      return add(matmul(y, transpose(embedding_->table(), 0, 1)), output_bias_);  // (B, T, V)
    }
    case PerceiverDecoder::kFlow: {
      const Tensor y = decoder_attention_->forward(inputs, z);  // (B, M, C)
      const Tensor flow = mul_scalar(output_->forward(y), 1.0 / o.flow_rescale);
      return reshape(flow, {b, o.input_shape[0], o.input_shape[1], o.output_channels});
    }
  }
  KILN_FAIL("Perceiver: unknown decoder");
}

Tensor flow_patches(const Tensor& x) {
  KILN_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "flow_patches: x must be (B, H, W, 2 C), got ",
             shape_str(x.shape()));
  const int64_t h = x.size(1), w = x.size(2), c = x.size(3) / 2;
  TensorList parts;
  for (int64_t frame = 0; frame < 2; ++frame) {
    const Tensor padded = pad(narrow(x, 3, frame * c, c), {{1, 1}, {1, 1}, {0, 0}});
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 3; ++j) parts.push_back(narrow(narrow(padded, 1, i, h), 2, j, w));
    }
  }
  return concat(parts, 3);
}

std::vector<std::string> perceiver_preset_names() {
  return {"imagenet", "io_imagenet", "io_language", "io_flow"};
}

PerceiverOptions perceiver_preset(const std::string& name) {
  PerceiverOptions o;
  if (name == "imagenet" || name == "io_imagenet") {
    // 224 x 224 RGB pixels ++ 2D Fourier features (64 bands, max resolution
    // 224): 3 + 258 = 261 channels; 512 x 1024 latents; 6 self-attends
    // (8 heads, widening 1) shared across 8 blocks; cross-attends 1 head.
    o.input = PerceiverInput::kImage;
    o.input_shape = {224, 224, 3};
    o.num_classes = 1000;
    o.position = PerceiverPosition::kFourier;
    o.fourier = {.num_bands = 64, .max_resolution = {224, 224}};
    o.num_latents = 512;
    o.latent_channels = 1024;
    o.num_blocks = 8;
    o.num_self_attends_per_block = 6;
    o.share_blocks = true;
    o.cross_attend_heads = 1;
    o.self_attend_heads = 8;
    if (name == "imagenet") {
      // The Perceiver: a cross-attend before every block, all but the first
      // shared; latents averaged, then a (zero-initialised) linear head.
      o.num_cross_attends = 8;
      o.share_cross_attends = true;
      o.decoder = PerceiverDecoder::kMean;
    } else {
      // Perceiver IO: one cross-attend; a single 1024-d learned query.
      o.num_cross_attends = 1;
      o.decoder = PerceiverDecoder::kClassification;
      o.query_channels = 1024;
      o.decoder_heads = 1;
      o.decoder_query_residual = true;
    }
    return o;
  }
  if (name == "io_language") {
    // Perceiver IO Base on UTF-8 bytes (the masked_language_modelling colab):
    // 2048 bytes embedded to 768 + learned positions; 256 x 1280 latents, 26
    // unshared self-attends, 8 heads, qk 256, v 1280; 2048 learned queries
    // (768), 8 heads, qk 256, v 768, no query residual; tied output.
    o.input = PerceiverInput::kTokens;
    o.input_shape = {2048};
    o.vocab_size = bytes_tokenizer::kVocabSize;
    o.embed_dim = 768;
    o.position = PerceiverPosition::kLearned;
    o.num_latents = 256;
    o.latent_channels = 1280;
    o.num_blocks = 1;
    o.num_self_attends_per_block = 26;
    o.num_cross_attends = 1;
    o.cross_attend_heads = 8;
    o.cross_attend_qk_channels = 256;
    o.cross_attend_v_channels = 1280;
    o.self_attend_heads = 8;
    o.self_attend_qk_channels = 256;
    o.self_attend_v_channels = 1280;
    o.decoder = PerceiverDecoder::kMaskedLm;
    o.decoder_heads = 8;
    o.decoder_qk_channels = 256;
    o.decoder_v_channels = 768;
    o.decoder_query_residual = false;
    return o;
  }
  if (name == "io_flow") {
    // The optical_flow colab: two 368 x 496 RGB frames; a 3x3 patch of both
    // frames per pixel (54 values) -> Linear 64 ++ 2D Fourier (64 bands,
    // max resolution (368, 496)) = 322 channels; 2048 x 512 latents, 24
    // unshared self-attends with 16 heads; the inputs are the decoder's
    // queries; Linear -> 2 (zero init) / 100.
    o.input = PerceiverInput::kFlow;
    o.input_shape = {368, 496, 6};
    o.input_projection = 64;
    o.position = PerceiverPosition::kFourier;
    o.fourier = {.num_bands = 64, .max_resolution = {368, 496}};
    o.num_latents = 2048;
    o.latent_channels = 512;
    o.num_blocks = 1;
    o.num_self_attends_per_block = 24;
    o.num_cross_attends = 1;
    o.cross_attend_heads = 1;
    o.self_attend_heads = 16;
    o.decoder = PerceiverDecoder::kFlow;
    o.decoder_heads = 1;
    o.decoder_query_residual = false;
    o.output_channels = 2;
    o.flow_rescale = 100.0;
    return o;
  }
  KILN_FAIL("perceiver_preset: unknown preset '", name,
            "' (one of: ", absl::StrJoin(perceiver_preset_names(), ", "), ")");
}

}  // namespace kiln::models
