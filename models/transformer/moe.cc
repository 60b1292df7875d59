#include "kiln/models/transformer/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kiln/nn/init.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"

namespace kiln::models {

int64_t moe_capacity(int64_t tokens, int64_t num_experts, int64_t top_k, double capacity_factor) {
  KILN_CHECK(num_experts >= 1 && top_k >= 1 && top_k <= num_experts && capacity_factor > 0,
             "moe: needs 1 <= top_k (", top_k, ") <= num_experts (", num_experts,
             ") and capacity_factor (", capacity_factor, ") > 0");
  const double c = std::ceil(capacity_factor * static_cast<double>(top_k * tokens) /
                             static_cast<double>(num_experts));
  return std::max<int64_t>(1, static_cast<int64_t>(c));
}

MoeRouting route_top_k(const std::vector<float>& probs, int64_t num_tokens, int64_t num_experts,
                       int64_t top_k, int64_t capacity) {
  KILN_CHECK(num_experts >= 1 && top_k >= 1 && top_k <= num_experts && capacity >= 1,
             "moe routing: needs 1 <= top_k (", top_k, ") <= num_experts (", num_experts,
             ") and capacity (", capacity, ") >= 1");
  KILN_CHECK(static_cast<int64_t>(probs.size()) == num_tokens * num_experts,
             "moe routing: ", probs.size(), " probabilities for (N, E) = (", num_tokens, ", ",
             num_experts, ")");
  MoeRouting r;
  r.num_tokens = num_tokens;
  r.num_experts = num_experts;
  r.top_k = top_k;
  r.capacity = capacity;
  r.choice.resize(static_cast<size_t>(num_tokens * top_k));
  r.dispatch.assign(static_cast<size_t>(num_experts * capacity), num_tokens);
  r.combine.assign(static_cast<size_t>(num_tokens * top_k), num_experts * capacity);
  r.routed.assign(static_cast<size_t>(num_experts), 0);
  r.kept.assign(static_cast<size_t>(num_experts), 0);
  r.first.assign(static_cast<size_t>(num_experts), 0);

  std::vector<int64_t> order(static_cast<size_t>(num_experts));
  for (int64_t n = 0; n < num_tokens; ++n) {
    const float* p = probs.data() + n * num_experts;
    std::iota(order.begin(), order.end(), 0);
    // Descending probability, ties to the lower index.
    std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                      [p](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    for (int64_t j = 0; j < top_k; ++j) {
      r.choice[n * top_k + j] = order[j];
      ++r.routed[order[j]];
    }
    ++r.first[order[0]];
  }
  // Priority: all first choices in token order, then all second choices, ...
  for (int64_t j = 0; j < top_k; ++j) {
    for (int64_t n = 0; n < num_tokens; ++n) {
      const int64_t e = r.choice[n * top_k + j];
      if (r.kept[e] < capacity) {
        const int64_t slot = e * capacity + r.kept[e];
        r.dispatch[slot] = n;
        r.combine[n * top_k + j] = slot;
        ++r.kept[e];
      } else {
        ++r.dropped_choices;
      }
    }
  }
  for (int64_t n = 0; n < num_tokens; ++n) {
    bool any = false;
    for (int64_t j = 0; j < top_k; ++j) any |= r.combine[n * top_k + j] < num_experts * capacity;
    if (!any) ++r.dropped_tokens;
  }
  return r;
}

MoeMlp::MoeMlp(const MoeMlpOptions& options, nn::Activation activation, Generator& gen)
    : options_(options), activation_(std::move(activation)) {
  const MoeOptions& m = options.moe;
  const int64_t d = options.d_model, h = options.hidden, e = m.num_experts;
  KILN_CHECK(d > 0 && h > 0, "MoeMlp: d_model (", d, ") and hidden (", h, ") must be positive");
  KILN_CHECK(e >= 1 && m.top_k >= 1 && m.top_k <= e, "MoeMlp: needs 1 <= top_k (", m.top_k,
             ") <= num_experts (", e, ")");
  KILN_CHECK(m.capacity_factor > 0 && m.eval_capacity_factor > 0,
             "MoeMlp: capacity factors must be positive, got ", m.capacity_factor, " and ",
             m.eval_capacity_factor);
  // Switch initialises the router with a truncated normal of variance 0.1 / fan_in.
  router_ = register_module(
      "router", std::make_shared<nn::Linear>(
                    nn::LinearOptions{.in_features = d,
                                      .out_features = e,
                                      .bias = false,
                                      .weight_init =
                                          [](const Tensor& w, Generator& g) {
                                            nn::init::variance_scaling_(
                                                w, 0.1, nn::init::FanMode::kFanIn,
                                                nn::init::Distribution::kTruncatedNormal, g);
                                          }},
                    gen));
  auto expert_weight = [&](int64_t in, int64_t out) {
    Tensor w = Tensor::empty({e, in, out});
    if (options.expert_init) {
      options.expert_init(w, gen);
    } else {
      nn::init::truncated_normal_(w, 0.0, 1.0 / std::sqrt(static_cast<double>(in)), gen);
    }
    return w;
  };
  w1_ = register_parameter("w1", expert_weight(d, h));
  if (options.bias) b1_ = register_parameter("b1", zeros({e, h}));
  w2_ = register_parameter("w2", expert_weight(h, d));
  if (options.bias) b2_ = register_parameter("b2", zeros({e, d}));
}

Tensor MoeMlp::forward(const Tensor& x) {
  const MoeOptions& m = options_.moe;
  const int64_t d = options_.d_model, e = m.num_experts, k = m.top_k;
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == d, "MoeMlp: input ", shape_str(x.shape()),
             " does not end in d_model ", d);
  const Tensor flat = reshape(x, {-1, d});  // (N, D)
  const int64_t n = flat.size(0);
  KILN_CHECK(n > 0, "MoeMlp: no tokens in input ", shape_str(x.shape()));
  const Tensor logits = router_->forward(flat);  // (N, E)
  const Tensor probs = softmax(logits, -1);
  const int64_t capacity =
      moe_capacity(n, e, k, is_training() ? m.capacity_factor : m.eval_capacity_factor);
  routing_ = route_top_k(to_float_vector(probs), n, e, k, capacity);

  // Gates (N, k) from the probabilities of the chosen experts.
  Tensor gates = gather(probs, 1, from_vector(routing_.choice, {n, k}));
  if (k > 1 && m.normalize_gates) gates = div(gates, sum(gates, {1}, true));

  // Dispatch: slot (e, c) reads token dispatch[e, c], or the zero row N.
  const Tensor zero_row = zeros({1, d}, x.dtype());
  const Tensor padded = concat({flat, zero_row}, 0);  // (N + 1, D)
  Tensor xe = reshape(index_select(padded, 0, from_vector(routing_.dispatch, {e * capacity})),
                      {e, capacity, d});
  Tensor hidden = matmul(xe, w1_);  // (E, C, H)
  if (b1_.defined()) hidden = add(hidden, unsqueeze(b1_, 1));
  hidden = activation_(hidden);
  Tensor ye = matmul(hidden, w2_);  // (E, C, D)
  if (b2_.defined()) ye = add(ye, unsqueeze(b2_, 1));
  // Combine: each choice reads its slot (dropped ones the zero row E * C).
  const Tensor slots = concat({reshape(ye, {e * capacity, d}), zero_row}, 0);
  Tensor picked =
      reshape(index_select(slots, 0, from_vector(routing_.combine, {n * k})), {n, k, d});
  Tensor y = sum(mul(picked, unsqueeze(gates, -1)), {1});  // (N, D)

  // Auxiliary losses: Switch load balancing and the ST-MoE router z-loss.
  std::vector<double> first_fraction(static_cast<size_t>(e));
  for (int64_t i = 0; i < e; ++i) {
    first_fraction[i] = static_cast<double>(routing_.first[i]) / static_cast<double>(n);
  }
  const Tensor f = from_vector(first_fraction, {e}, x.dtype());
  const Tensor balance = mul_scalar(sum(mul(f, mean(probs, {0}))), static_cast<double>(e));
  const Tensor z = mean(square(logsumexp(logits, {1})));
  aux_loss_ = add(mul_scalar(balance, m.load_balance_weight), mul_scalar(z, m.z_loss_weight));

  stats_ = MoeStats{};
  stats_.load_balance_loss = balance.item<double>();
  stats_.z_loss = z.item<double>();
  stats_.tokens = n;
  stats_.capacity = capacity;
  const double choices = static_cast<double>(n * k);
  stats_.dropped_choice_fraction = static_cast<double>(routing_.dropped_choices) / choices;
  stats_.dropped_token_fraction =
      static_cast<double>(routing_.dropped_tokens) / static_cast<double>(n);
  stats_.share.resize(static_cast<size_t>(e));
  for (int64_t i = 0; i < e; ++i) {
    stats_.share[i] = static_cast<double>(routing_.routed[i]) / choices;
  }
  Shape out_shape = x.shape();
  return reshape(y, out_shape);
}

}  // namespace kiln::models
