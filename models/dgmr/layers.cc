#include "kiln/models/dgmr/layers.h"

#include <cmath>

#include "kiln/core/error.h"
#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"

namespace kiln::models::dgmr {

Conv::Conv(const ConvOptions& o, Generator& gen) : options_(o) {
  KILN_CHECK(
      o.in > 0 && o.out > 0 && o.kernel % 2 == 1 && (o.rank == 0 || o.rank == 2 || o.rank == 3),
      "dgmr::Conv: bad options (in ", o.in, ", out ", o.out, ", kernel ", o.kernel, ", rank ",
      o.rank, ")");
  Shape shape(static_cast<size_t>(o.rank), o.kernel);
  shape.push_back(o.in);
  shape.push_back(o.out);
  Tensor w = Tensor::empty(shape, o.dtype);
  nn::init::truncated_normal_(w, 0.0, 1.0 / std::sqrt(static_cast<double>(nn::init::fan_in(w))),
                              gen);
  weight_ = register_parameter("weight", w);
  if (o.bias) bias_ = register_parameter("bias", zeros({o.out}, o.dtype));
  if (o.spectral_norm) {
    sn_ = register_module(
        "sn", std::make_shared<nn::SpectralNorm>(
                  nn::SpectralNormOptions{.out_features = o.out, .eps = o.sn_eps, .dtype = o.dtype},
                  gen));
  }
}

Tensor Conv::forward(const Tensor& x) {
  const Tensor w = sn_ ? sn_->forward(weight_) : weight_;
  const int64_t p = options_.kernel / 2;
  if (options_.rank == 2) return conv2d(x, w, bias_, {.padding = {p, p, p, p}});
  if (options_.rank == 3) return conv3d(x, w, bias_, {.padding = {p, p, p, p, p, p}});
  Shape out_shape = x.shape();
  out_shape.back() = options_.out;
  Tensor y = matmul(reshape(x, {-1, options_.in}), w);  // (M, out)
  if (bias_.defined()) y = add(y, bias_);
  return reshape(y, out_shape);
}

DBlock::DBlock(const DBlockOptions& o, Generator& gen) : options_(o) {
  KILN_CHECK(o.rank == 2 || o.rank == 3, "dgmr::DBlock: rank must be 2 or 3, got ", o.rank);
  const ConvOptions base{.rank = o.rank, .sn_eps = o.block.sn_eps, .dtype = o.block.dtype};
  auto conv = [&](int64_t in, int64_t out, int64_t k) {
    ConvOptions c = base;
    c.in = in;
    c.out = out;
    c.kernel = k;
    return std::make_shared<Conv>(c, gen);
  };
  conv1_ = register_module("conv1", conv(o.in, o.out, 3));
  conv2_ = register_module("conv2", conv(o.out, o.out, 3));
  if (o.in != o.out) shortcut_ = register_module("shortcut", conv(o.in, o.out, 1));
}

Tensor DBlock::pool(const Tensor& x) const {
  if (!options_.downsample) return x;
  return options_.rank == 2 ? avg_pool2d(x, {}) : avg_pool3d(x, {});
}

Tensor DBlock::forward(const Tensor& x) {
  // x (N, [D,] H, W, in) -> (N, [D/2,] H/2, W/2, out) when downsampling.
  const Tensor shortcut = pool(shortcut_ ? shortcut_->forward(x) : x);
  Tensor h = options_.first_relu ? relu(x) : x;
  h = conv2_->forward(relu(conv1_->forward(h)));  // (N, [D,] H, W, out)
  return add(pool(h), shortcut);
}

GBlock::GBlock(const GBlockOptions& o, Generator& gen) : options_(o) {
  const DType dt = o.block.dtype;
  auto conv = [&](int64_t in, int64_t out, int64_t k) {
    return std::make_shared<Conv>(
        ConvOptions{.in = in, .out = out, .kernel = k, .sn_eps = o.block.sn_eps, .dtype = dt}, gen);
  };
  bn1_ = register_module(
      "bn1", std::make_shared<nn::BatchNorm>(nn::BatchNormOptions{.channels = o.in, .dtype = dt}));
  conv1_ = register_module("conv1", conv(o.in, o.in, 3));
  bn2_ = register_module(
      "bn2", std::make_shared<nn::BatchNorm>(nn::BatchNormOptions{.channels = o.in, .dtype = dt}));
  conv2_ = register_module("conv2", conv(o.in, o.out, 3));
  if (o.in != o.out || o.upsample) shortcut_ = register_module("shortcut", conv(o.in, o.out, 1));
}

Tensor GBlock::forward(const Tensor& x) {
  auto up = [&](const Tensor& t) { return options_.upsample ? upsample_nearest2d(t, 2, 2) : t; };
  // x (N, H, W, in) -> (N, H', W', out), H' = 2H when upsampling.
  const Tensor shortcut = shortcut_ ? shortcut_->forward(up(x)) : x;
  Tensor h = conv1_->forward(up(relu(bn1_->forward(x))));  // (N, H', W', in)
  h = conv2_->forward(relu(bn2_->forward(h)));
  return add(h, shortcut);
}

LBlock::LBlock(const LBlockOptions& o, Generator& gen) : options_(o) {
  KILN_CHECK(o.in > 0 && o.out >= o.in, "dgmr::LBlock: channels must grow, got ", o.in, " -> ",
             o.out);
  auto conv = [&](int64_t in, int64_t out, int64_t k) {
    return std::make_shared<Conv>(
        ConvOptions{.in = in, .out = out, .kernel = k, .spectral_norm = false, .dtype = o.dtype},
        gen);
  };
  conv1_ = register_module("conv1", conv(o.in, o.out, 3));
  conv2_ = register_module("conv2", conv(o.out, o.out, 3));
  if (o.out > o.in) shortcut_ = register_module("shortcut", conv(o.in, o.out - o.in, 1));
}

Tensor LBlock::forward(const Tensor& x) {
  // x (N, H, W, in) -> (N, H, W, out); the shortcut keeps x's channels.
  const Tensor shortcut = shortcut_ ? concat({x, shortcut_->forward(x)}, -1) : x;
  const Tensor h = conv2_->forward(relu(conv1_->forward(relu(x))));
  return add(h, shortcut);
}

SpatialAttention::SpatialAttention(const SpatialAttentionOptions& o, Generator& gen) : options_(o) {
  KILN_CHECK(o.channels >= 8 && o.channels % 8 == 0,
             "dgmr::SpatialAttention: channels must be a multiple of 8, got ", o.channels);
  const int64_t c = o.channels, c8 = o.channels / 8;
  auto conv = [&](int64_t in, int64_t out) {
    return std::make_shared<Conv>(ConvOptions{.in = in,
                                              .out = out,
                                              .kernel = 1,
                                              .spectral_norm = false,
                                              .bias = false,
                                              .dtype = o.dtype},
                                  gen);
  };
  query_ = register_module("query", conv(c, c8));
  key_ = register_module("key", conv(c, c8));
  value_ = register_module("value", conv(c, c8));
  out_ = register_module("out", conv(c8, c));
  gamma_ = register_parameter("gamma", full({1}, o.gamma_init, o.dtype));
}

Tensor SpatialAttention::forward(const Tensor& x) {
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c8 = options_.channels / 8;
  // (N, H, W, C/8) -> (N, 1, HW, C/8): one head over every position.
  auto heads = [&](const Tensor& t) { return reshape(t, {n, 1, h * w, c8}); };
  const Tensor a = attention(heads(query_->forward(x)), heads(key_->forward(x)),
                             heads(value_->forward(x)), Tensor(), Tensor(), {.scale = 1.0});
  const Tensor y = out_->forward(reshape(a, {n, h, w, c8}));  // (N, H, W, C)
  return add(mul(y, gamma_), x);
}

ConvGru::ConvGru(const ConvGruOptions& o, Generator& gen) : options_(o) {
  const int64_t in = o.input_channels + o.hidden_channels, out = o.hidden_channels;
  auto conv = [&]() {
    return std::make_shared<Conv>(
        ConvOptions{.in = in, .out = out, .sn_eps = o.block.sn_eps, .dtype = o.block.dtype}, gen);
  };
  reset_ = register_module("reset", conv());
  update_ = register_module("update", conv());
  candidate_ = register_module("candidate", conv());
}

Tensor ConvGru::forward(const Tensor& x, const Tensor& h) {
  const Tensor xh = concat({x, h}, -1);                                    // (N, H, W, Cx + Ch)
  const Tensor r = sigmoid(reset_->forward(xh));                           // (N, H, W, Ch)
  const Tensor u = sigmoid(update_->forward(xh));                          // (N, H, W, Ch)
  const Tensor c = relu(candidate_->forward(concat({x, mul(r, h)}, -1)));  // (N, H, W, Ch)
  return add(mul(u, h), mul(rsub(1.0, u), c));
}

}  // namespace kiln::models::dgmr
