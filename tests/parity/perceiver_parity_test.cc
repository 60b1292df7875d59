// Whole-model parity with the PyTorch implementation in
// tools/golden/perceiver.py (the official Perceiver / Perceiver IO code's
// math with kiln's names): the same weights give the same outputs, loss and
// gradient of every parameter for a Perceiver IO classifier on Fourier
// features (iterative, weight-shared cross-attends and latent blocks), the
// byte-level masked LM (PAD masks, tied output), the flow-style dense
// decoder and the Perceiver's mean decoder on learned, projected, added
// positions.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kiln/models/perceiver/perceiver.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "tests/parity/golden.h"

namespace kiln::parity {
namespace {

using models::PerceiverDecoder;
using models::PerceiverInput;
using models::PerceiverOptions;
using models::PerceiverPosition;

// kiln runs float32 against float64 answers through a few dozen layers
// (LayerNorms, softmaxes, GELUs); errors are float32 rounding.
constexpr Tolerance kModelTolerance{2e-5, 2e-5};

bool meta_bool(const Golden& g, const std::string& key) { return g.meta_int(key) != 0; }

PerceiverOptions options_from(const Golden& g) {
  PerceiverOptions o;
  const std::string input = g.meta("input");
  o.input = input == "tokens" ? PerceiverInput::kTokens
            : input == "flow" ? PerceiverInput::kFlow
                              : PerceiverInput::kImage;
  o.input_shape = g.meta_ints("input_shape");
  o.num_classes = g.meta_int("num_classes");
  o.vocab_size = g.meta_int("vocab_size");
  o.embed_dim = g.meta_int("embed_dim");
  o.input_projection = g.meta_int("input_projection");
  const std::string position = g.meta("position");
  o.position = position == "fourier"   ? PerceiverPosition::kFourier
               : position == "learned" ? PerceiverPosition::kLearned
                                       : PerceiverPosition::kNone;
  o.fourier.num_bands = g.meta_int("num_bands");
  for (int64_t r : g.meta_ints("max_resolution")) o.fourier.max_resolution.push_back(r);
  o.fourier.concat_pos = meta_bool(g, "concat_pos");
  o.fourier.sine_only = meta_bool(g, "sine_only");
  o.position_channels = g.meta_int("position_channels");
  o.position_projection = g.meta_int("position_projection");
  o.concat_position = g.meta("position_combine") == "concat";
  o.num_latents = g.meta_int("num_latents");
  o.latent_channels = g.meta_int("latent_channels");
  o.num_blocks = g.meta_int("num_blocks");
  o.num_self_attends_per_block = g.meta_int("num_self_attends_per_block");
  o.share_blocks = meta_bool(g, "share_blocks");
  o.num_cross_attends = g.meta_int("num_cross_attends");
  o.share_cross_attends = meta_bool(g, "share_cross_attends");
  o.cross_attend_heads = g.meta_int("cross_attend_heads");
  o.cross_attend_qk_channels = g.meta_int("cross_attend_qk_channels");
  o.cross_attend_v_channels = g.meta_int("cross_attend_v_channels");
  o.cross_attend_widening = g.meta_int("cross_attend_widening");
  o.encoder_query_residual = meta_bool(g, "encoder_query_residual");
  o.self_attend_heads = g.meta_int("self_attend_heads");
  o.self_attend_qk_channels = g.meta_int("self_attend_qk_channels");
  o.self_attend_v_channels = g.meta_int("self_attend_v_channels");
  o.self_attend_widening = g.meta_int("self_attend_widening");
  const std::string decoder = g.meta("decoder");
  o.decoder = decoder == "mean"             ? PerceiverDecoder::kMean
              : decoder == "classification" ? PerceiverDecoder::kClassification
              : decoder == "mlm"            ? PerceiverDecoder::kMaskedLm
                                            : PerceiverDecoder::kFlow;
  o.final_norm = meta_bool(g, "final_norm");
  o.query_channels = g.meta_int("query_channels");
  o.decoder_heads = g.meta_int("decoder_heads");
  o.decoder_qk_channels = g.meta_int("decoder_qk_channels");
  o.decoder_v_channels = g.meta_int("decoder_v_channels");
  o.decoder_widening = g.meta_int("decoder_widening");
  o.decoder_query_residual = meta_bool(g, "decoder_query_residual");
  o.output_channels = g.meta_int("output_channels");
  o.flow_rescale = g.meta_double("flow_rescale");
  return o;
}

void check_model(const std::string& name) {
  SCOPED_TRACE(name);
  const Golden g = Golden::load(name);
  const PerceiverOptions o = options_from(g);
  Generator gen(0);
  models::Perceiver model(o, gen, nullptr);

  // The golden's weights, strictly: every kiln parameter has one, and the
  // counts agree (so neither side has parameters the other lacks).
  std::map<std::string, Tensor> state;
  for (const auto& [pname, t] : model.named_parameters()) {
    ASSERT_TRUE(g.has("param." + pname)) << "golden lacks " << pname;
    state[pname] = g.get("param." + pname, DType::kF32);
  }
  ASSERT_EQ(static_cast<int64_t>(state.size()), g.meta_int("num_params"));
  ASSERT_TRUE(model.load_state_dict(state).ok());

  const bool tokens = o.input == PerceiverInput::kTokens;
  const Tensor input = g.get("input", tokens ? DType::kI64 : DType::kF32);
  if (g.has("fourier")) {
    // The encoder inputs' position channels are the golden's Fourier table.
    const Tensor inputs = model.preprocess(input).first;  // (B, M, C)
    const int64_t p = g.raw("fourier").size(1);
    const Tensor pos = narrow(narrow(inputs, 0, 0, 1), 2, inputs.size(2) - p, p);
    EXPECT_TRUE(all_close(reshape(pos, g.raw("fourier").shape()), g.raw("fourier"), {1e-6, 1e-6}))
        << "fourier features";
  }
  const Tensor out = model.forward(input);
  EXPECT_TRUE(all_close(out, g.raw("out"), kModelTolerance)) << "outputs";
  Tensor loss;
  if (o.decoder == PerceiverDecoder::kFlow) {
    loss = sum(mul(out, g.get("proj", DType::kF32)));
  } else if (o.decoder == PerceiverDecoder::kMaskedLm) {
    loss = cross_entropy(reshape(out, {-1, out.size(-1)}), g.get("targets", DType::kI64));
  } else {
    loss = cross_entropy(out, g.get("targets", DType::kI64));
  }
  EXPECT_TRUE(all_close(reshape(loss, {1}), g.raw("loss"), kModelTolerance)) << "loss";
  loss.backward();
  for (const auto& [pname, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << pname;
    EXPECT_TRUE(all_close(p.grad(), g.raw("grad." + pname), kModelTolerance)) << "grad " << pname;
  }
}

TEST(PerceiverParity, IoClassifierFourierSharedCrossAttends) {
  check_model("perceiver_io_classifier");
}
TEST(PerceiverParity, IoByteMaskedLmPaddingTiedOutput) { check_model("perceiver_io_mlm"); }
TEST(PerceiverParity, IoFlowQueriesFromInputs) { check_model("perceiver_flow"); }
TEST(PerceiverParity, MeanDecoderLearnedProjectedAddedPositions) {
  check_model("perceiver_mean_learned");
}

}  // namespace
}  // namespace kiln::parity
