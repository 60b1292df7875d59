// Signal-propagation tools of deep vanilla transformers ("Deep Transformers
// without Shortcuts", He et al. 2023, arXiv 2302.10322) and of TAT (the
// deepmind/dks library):
//
// - E-SPA and U-SPA: fixed attention matrices A_l = L_{l+1} L_l^{-1} built
//   from the Cholesky factors of target kernels Sigma_l = L_l L_l^T, so that
//   A_l Sigma_l A_l^T = Sigma_{l+1}. A_l is lower triangular (causal) and
//   non-negative; it is realised as softmax(bias) with bias = log P where
//   A = diag(s) P and rows of P sum to 1, and the attention output at
//   position i is multiplied by the fixed s_i (location-dependent
//   rescaling).
// - TAT's leaky ReLU, whose negative slope is solved so the network's
//   composed C map at 0 equals eta (dks's bisection, reproduced exactly).
// - dks's scaled uniform orthogonal (SUO) initialiser.
//
// Matrices are row-major std::vector<double> of size T * T, in float64
// (entries scale like a^(i - k) and underflow in float32).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::models::spa {

// The target kernels. E-SPA: Sigma(gamma)_ij = exp(-gamma |i - j|), gamma > 0
// (gamma = +inf is the identity). U-SPA: Sigma(rho) = (1 - rho) I + rho 1 1^T,
// 0 <= rho < 1.
std::vector<double> exponential_kernel(int64_t t, double gamma);
std::vector<double> uniform_kernel(int64_t t, double rho);

// The lower-triangular Cholesky factor of a symmetric positive definite
// (T, T) matrix; throws if it is not positive definite.
std::vector<double> cholesky(const std::vector<double>& sigma, int64_t t);

// A = L_out L_in^{-1} for lower-triangular factors, by triangular solves.
std::vector<double> cholesky_attention_matrix(const std::vector<double>& l_in,
                                              const std::vector<double>& l_out, int64_t t);

// E-SPA's attention matrix from Sigma(gamma_in) to Sigma(gamma_out) (gamma_in
// may be +inf: Sigma = I, then A = L(a), the target's Cholesky factor), in the
// closed form of the AR(1) Cholesky factors (a = e^-gamma_out,
// b = e^-gamma_in, s(r) = sqrt(1 - r^2)): A_00 = 1, A_i0 = a^i - a^(i-1) b
// s(a) / s(b), A_ik = a^(i-k-1) s(a) (a - b) / s(b) for 0 < k < i,
// A_ii = s(a) / s(b). Needs gamma_out <= gamma_in (else entries go negative).
std::vector<double> espa_attention_matrix(int64_t t, double gamma_in, double gamma_out);
// U-SPA's attention matrix from Sigma(rho_in) to Sigma(rho_out),
// rho_in <= rho_out, through numerical Cholesky factors.
std::vector<double> uspa_attention_matrix(int64_t t, double rho_in, double rho_out);

// The schedules: num_layers + 1 values, Sigma_0 (the input) to Sigma_L.
//
// The paper's ("log_det"): Sigma_0 = I (gamma_0 = +inf, rho_0 = 0) and the
// kernels lose "volume" at a constant rate per layer, log det Sigma_l =
// (l / L) log det Sigma_L. For E-SPA det Sigma(gamma) = (1 - e^(-2 gamma))^(T-1)
// exactly (the AR(1) Cholesky factor has diagonal s(e^-gamma)), so
//   1 - e^(-2 gamma_l) = (1 - e^(-2 gamma_L))^(l / L),
// i.e. gamma_l = -log(1 - (1 - e^(-2 gamma_L))^(l / L)) / 2, the same for every
// T. For U-SPA the Cholesky diagonal of (1 - rho) I + rho 1 1^T tends to
// sqrt(1 - rho), and the same rule gives 1 - rho_l = (1 - rho_L)^(l / L).
std::vector<double> espa_gammas_log_det(int64_t num_layers, double gamma_end);
std::vector<double> uspa_rhos_log_det(int64_t num_layers, double rho_end);
// The older interpolation ("interpolate"): E-SPA log gamma linear from
// gamma_start down to gamma_end; U-SPA rho linear from rho_start up to rho_end.
std::vector<double> espa_gammas(int64_t num_layers, double gamma_start, double gamma_end);
std::vector<double> uspa_rhos(int64_t num_layers, double rho_start, double rho_end);

// Log-probabilities below this are stored as this (a zero entry of A).
inline constexpr double kMinLogProbability = -1e4;

// An attention matrix as the attention op takes it.
struct SpaBias {
  Tensor bias;   // (T, T) f32: log P_ik on k <= i, 0 above the diagonal (masked)
  Tensor scale;  // (T) f32: s_i, the row sums of A
};
// Splits a non-negative lower-triangular A into diag(s) P; tiny negative
// round-off is clipped to 0. Throws if a row has no positive entry.
SpaBias spa_bias_from_matrix(const std::vector<double>& a, int64_t t);
// E-SPA directly in log space (no underflow at large T): the same as
// spa_bias_from_matrix(espa_attention_matrix(...)).
SpaBias espa_bias(int64_t t, double gamma_in, double gamma_out);

}  // namespace kiln::models::spa

namespace kiln::models::tat {

// The local C map of leaky_relu with the given negative slope for
// unit-variance inputs (dks's _leaky_relu_cmap).
double leaky_relu_cmap(double c, double negative_slope);
// The negative slope that makes `depth` composed leaky-ReLU layers map
// correlation 0 to eta: C^{o depth}(0) = eta, by dks's bisection
// (_solve_increasing on 1 - C(0), start 0.5, bounds [0, 1], tol 1e-8).
double leaky_relu_negative_slope(int64_t depth, double eta);
// sqrt(2 / (1 + slope^2)): the output scale giving Q(1) = 1.
double leaky_relu_output_scale(double negative_slope);

}  // namespace kiln::models::tat

namespace kiln::models {

// dks's scaled uniform orthogonal initialiser for a weight (..., in, out)
// (each trailing (in, out) matrix on its own): orthonormal rows (in <= out)
// or columns (in > out) from the QR of a Gaussian matrix, times
// max(sqrt(out / in), 1), so the layer preserves the mean squared
// activation (the q value).
void scaled_uniform_orthogonal_(const Tensor& weight, Generator& gen);

}  // namespace kiln::models
