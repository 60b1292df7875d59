// A sparse mixture-of-experts MLP (Shazeer et al. 2017, GShard, Switch,
// ST-MoE; the Gemini 1.5 report does not publish its routing, so this is the
// standard formulation of the literature):
//
//   h = x W_r (router logits, no bias), p = softmax(h)
//   each token picks its top-k experts; the gates are p_e (k = 1, Switch) or
//   p_e renormalised over the chosen k (k > 1, GShard, when normalize_gates)
//   y = sum over kept choices of gate * FFN_e(x)
//
// Capacity: each expert takes at most C = ceil(capacity_factor * k * N / E)
// of the N tokens of a batch, assigned in priority order (every token's first
// choice in token order, then every second choice, ...); choices beyond C are
// dropped (they contribute 0; with a residual block the token passes through
// unchanged). Auxiliary losses, from the same forward:
//   load balancing (Switch): E * sum_e f_e P_e, with f_e the fraction of tokens
//     whose first choice is e and P_e the mean router probability of e
//     (1 at uniform routing);
//   router z-loss (ST-MoE): mean over tokens of logsumexp(h)^2.
// The experts run as one batched matmul over (E, C, D) slots.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kiln/nn/layers.h"

namespace kiln::models {

struct MoeOptions {
  int64_t num_experts = 0;  // E; 0 means a dense MLP
  int64_t top_k = 1;
  double capacity_factor = 1.25;      // while training
  double eval_capacity_factor = 2.0;  // in eval mode
  double load_balance_weight = 1e-2;
  double z_loss_weight = 1e-3;
  bool normalize_gates = true;  // renormalise the gates over the chosen experts (top_k > 1)
  int64_t every = 1;            // blocks every - 1, 2 every - 1, ... get the MoE MLP
};

// C = ceil(capacity_factor * top_k * tokens / num_experts), at least 1.
int64_t moe_capacity(int64_t tokens, int64_t num_experts, int64_t top_k, double capacity_factor);

// The routing of N tokens: plain bookkeeping, no autograd.
struct MoeRouting {
  int64_t num_tokens = 0;
  int64_t num_experts = 0;
  int64_t top_k = 0;
  int64_t capacity = 0;
  std::vector<int64_t> choice;    // (N, k): the expert of each token's j-th choice
  std::vector<int64_t> dispatch;  // (E, C): the token in each expert slot, N when empty
  std::vector<int64_t> combine;   // (N, k): the slot e * C + c of each choice, E * C if dropped
  std::vector<int64_t> routed;    // (E): choices routed to e, before capacity
  std::vector<int64_t> kept;      // (E): choices e processed
  std::vector<int64_t> first;     // (E): tokens whose first choice is e
  int64_t dropped_choices = 0;    // choices beyond capacity
  int64_t dropped_tokens = 0;     // tokens none of whose choices was kept
};

// probs (N, E) row-major. Ties go to the lower expert index.
MoeRouting route_top_k(const std::vector<float>& probs, int64_t num_tokens, int64_t num_experts,
                       int64_t top_k, int64_t capacity);

// What the last forward measured (unweighted losses).
struct MoeStats {
  double load_balance_loss = 0;
  double z_loss = 0;
  int64_t tokens = 0;
  int64_t capacity = 0;
  double dropped_choice_fraction = 0;  // dropped choices / (N k)
  double dropped_token_fraction = 0;   // tokens with no kept choice / N
  std::vector<double> share;           // (E): routed choices of e / (N k)
};

struct MoeMlpOptions {
  int64_t d_model = 0;
  int64_t hidden = 0;  // per expert
  bool bias = true;
  MoeOptions moe;
  nn::Initializer expert_init;  // each (D, H) / (H, D) slice; default truncated normal 1/sqrt(in)
};

// x (..., D) -> (..., D). Parameters: router.weight (D, E), w1 (E, D, H),
// b1 (E, H), w2 (E, H, D), b2 (E, D).
class MoeMlp : public nn::Module {
 public:
  MoeMlp(const MoeMlpOptions& options, nn::Activation activation, Generator& gen);
  Tensor forward(const Tensor& x);
  // The last forward's load_balance_weight * balance + z_loss_weight * z
  // (a scalar in the graph when the forward recorded one).
  const Tensor& aux_loss() const { return aux_loss_; }
  const MoeStats& stats() const { return stats_; }
  const MoeRouting& routing() const { return routing_; }
  const MoeMlpOptions& options() const { return options_; }

 private:
  MoeMlpOptions options_;
  nn::Activation activation_;
  std::shared_ptr<nn::Linear> router_;
  Tensor w1_, b1_, w2_, b2_;
  Tensor aux_loss_;
  MoeStats stats_;
  MoeRouting routing_;
};

}  // namespace kiln::models
