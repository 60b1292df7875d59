#include "kiln/models/transformer/signal_propagation.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/ops/inplace.h"
#include "kiln/ops/random.h"

namespace kiln::models::spa {
namespace {

void check_size(const char* what, int64_t t) {
  KILN_CHECK(t >= 1, what, ": sequence length must be >= 1, got ", t);
}

// Row sums and log P of a lower-triangular A given as log-entries (-inf for
// zeros), row by row.
SpaBias bias_from_log_rows(int64_t t, const std::vector<double>& log_a) {
  std::vector<float> bias(static_cast<size_t>(t * t), 0.0f);
  std::vector<float> scale(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) {
    const double* row = log_a.data() + i * t;
    double top = -INFINITY;
    for (int64_t k = 0; k <= i; ++k) top = std::max(top, row[k]);
    KILN_CHECK(std::isfinite(top), "spa: row ", i,
               " of the attention matrix has no positive entry");
    double sum = 0;
    for (int64_t k = 0; k <= i; ++k) sum += std::exp(row[k] - top);
    const double log_s = top + std::log(sum);
    scale[i] = static_cast<float>(std::exp(log_s));
    for (int64_t k = 0; k <= i; ++k) {
      bias[i * t + k] = static_cast<float>(std::max(row[k] - log_s, kMinLogProbability));
    }
  }
  SpaBias out;
  out.bias = from_vector(bias, {t, t});
  out.scale = from_vector(scale, {t});
  return out;
}

// Cholesky factor of (1 - rho) I + rho 1 1^T: the diagonal d_j and the
// common value c_j of column j below the diagonal. With S_j = sum_{m<j} c_m^2:
// d_j = sqrt(1 - S_j), c_j = (rho - S_j) / d_j.
void uniform_cholesky(int64_t t, double rho, std::vector<double>* d, std::vector<double>* c) {
  d->resize(t);
  c->resize(t);
  double s = 0;
  for (int64_t j = 0; j < t; ++j) {
    (*d)[j] = std::sqrt(1.0 - s);
    (*c)[j] = (rho - s) / (*d)[j];
    s += (*c)[j] * (*c)[j];
  }
}

}  // namespace

std::vector<double> exponential_kernel(int64_t t, double gamma) {
  check_size("exponential_kernel", t);
  KILN_CHECK(gamma > 0, "exponential_kernel: gamma must be > 0, got ", gamma);
  std::vector<double> sigma(static_cast<size_t>(t * t));
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t j = 0; j < t; ++j) {
      sigma[i * t + j] = std::exp(-gamma * static_cast<double>(std::abs(i - j)));
    }
  }
  return sigma;
}

std::vector<double> uniform_kernel(int64_t t, double rho) {
  check_size("uniform_kernel", t);
  KILN_CHECK(rho >= 0 && rho < 1, "uniform_kernel: rho must be in [0, 1), got ", rho);
  std::vector<double> sigma(static_cast<size_t>(t * t), rho);
  for (int64_t i = 0; i < t; ++i) sigma[i * t + i] = 1.0;
  return sigma;
}

std::vector<double> cholesky(const std::vector<double>& sigma, int64_t t) {
  check_size("cholesky", t);
  KILN_CHECK(static_cast<int64_t>(sigma.size()) == t * t, "cholesky: ", sigma.size(),
             " entries for a (", t, ", ", t, ") matrix");
  std::vector<double> l(static_cast<size_t>(t * t), 0.0);
  for (int64_t j = 0; j < t; ++j) {
    double diag = sigma[j * t + j];
    for (int64_t m = 0; m < j; ++m) diag -= l[j * t + m] * l[j * t + m];
    KILN_CHECK(diag > 0, "cholesky: the matrix is not positive definite (pivot ", j, " is ", diag,
               ")");
    const double d = std::sqrt(diag);
    l[j * t + j] = d;
    for (int64_t i = j + 1; i < t; ++i) {
      double v = sigma[i * t + j];
      for (int64_t m = 0; m < j; ++m) v -= l[i * t + m] * l[j * t + m];
      l[i * t + j] = v / d;
    }
  }
  return l;
}

std::vector<double> cholesky_attention_matrix(const std::vector<double>& l_in,
                                              const std::vector<double>& l_out, int64_t t) {
  check_size("cholesky_attention_matrix", t);
  KILN_CHECK(
      static_cast<int64_t>(l_in.size()) == t * t && static_cast<int64_t>(l_out.size()) == t * t,
      "cholesky_attention_matrix: factors must be (", t, ", ", t, ")");
  // Row i of A solves a_i L_in = l_out_i; L_in is lower triangular, so
  // a_ij = (l_out_ij - sum_{k=j+1..i} a_ik L_in_kj) / L_in_jj, for j = i down to 0.
  std::vector<double> a(static_cast<size_t>(t * t), 0.0);
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t j = i; j >= 0; --j) {
      double v = l_out[i * t + j];
      for (int64_t k = j + 1; k <= i; ++k) v -= a[i * t + k] * l_in[k * t + j];
      a[i * t + j] = v / l_in[j * t + j];
    }
  }
  return a;
}

std::vector<double> espa_attention_matrix(int64_t t, double gamma_in, double gamma_out) {
  check_size("espa_attention_matrix", t);
  KILN_CHECK(gamma_out > 0 && gamma_out <= gamma_in && std::isfinite(gamma_out),
             "espa_attention_matrix: needs 0 < gamma_out (", gamma_out, ") <= gamma_in (", gamma_in,
             ")");
  const double a = std::exp(-gamma_out), b = std::exp(-gamma_in);
  const double sa = std::sqrt(1 - a * a), sb = std::sqrt(1 - b * b);
  std::vector<double> m(static_cast<size_t>(t * t), 0.0);
  m[0] = 1.0;
  for (int64_t i = 1; i < t; ++i) {
    m[i * t] =
        std::pow(a, static_cast<double>(i)) - std::pow(a, static_cast<double>(i - 1)) * b * sa / sb;
    for (int64_t k = 1; k < i; ++k) {
      m[i * t + k] = std::pow(a, static_cast<double>(i - k - 1)) * sa * (a - b) / sb;
    }
    m[i * t + i] = sa / sb;
  }
  return m;
}

std::vector<double> uspa_attention_matrix(int64_t t, double rho_in, double rho_out) {
  check_size("uspa_attention_matrix", t);
  KILN_CHECK(rho_in >= 0 && rho_in <= rho_out && rho_out < 1,
             "uspa_attention_matrix: needs 0 <= rho_in (", rho_in, ") <= rho_out (", rho_out,
             ") < 1");
  std::vector<double> d_in, c_in, d_out, c_out;
  uniform_cholesky(t, rho_in, &d_in, &c_in);
  uniform_cholesky(t, rho_out, &d_out, &c_out);
  // The triangular solve of cholesky_attention_matrix with L_in_kj = c_in_j
  // for every k > j: the inner sum is c_in_j times a running suffix sum.
  std::vector<double> a(static_cast<size_t>(t * t), 0.0);
  for (int64_t i = 0; i < t; ++i) {
    double suffix = 0;
    for (int64_t j = i; j >= 0; --j) {
      const double l_out = j == i ? d_out[j] : c_out[j];
      const double v = (l_out - c_in[j] * suffix) / d_in[j];
      a[i * t + j] = v;
      suffix += v;
    }
  }
  return a;
}

std::vector<double> espa_gammas(int64_t num_layers, double gamma_start, double gamma_end) {
  KILN_CHECK(num_layers >= 1, "espa_gammas: num_layers must be >= 1, got ", num_layers);
  KILN_CHECK(gamma_end > 0 && gamma_end <= gamma_start && std::isfinite(gamma_start),
             "espa_gammas: needs 0 < gamma_end (", gamma_end, ") <= gamma_start (", gamma_start,
             ") < inf");
  std::vector<double> g(static_cast<size_t>(num_layers + 1));
  const double lo = std::log(gamma_start), hi = std::log(gamma_end);
  for (int64_t l = 0; l <= num_layers; ++l) {
    g[l] = std::exp(lo + (hi - lo) * static_cast<double>(l) / static_cast<double>(num_layers));
  }
  g[0] = gamma_start;
  g[num_layers] = gamma_end;
  return g;
}

std::vector<double> espa_gammas_log_det(int64_t num_layers, double gamma_end) {
  KILN_CHECK(num_layers >= 1, "espa_gammas_log_det: num_layers must be >= 1, got ", num_layers);
  KILN_CHECK(gamma_end > 0 && std::isfinite(gamma_end),
             "espa_gammas_log_det: gamma_end must be in (0, inf), got ", gamma_end);
  // d_L = 1 - e^(-2 gamma_L), the squared Cholesky diagonal of Sigma_L.
  const double d_end = -std::expm1(-2.0 * gamma_end);
  std::vector<double> g(static_cast<size_t>(num_layers + 1));
  g[0] = INFINITY;
  for (int64_t l = 1; l <= num_layers; ++l) {
    const double d = std::pow(d_end, static_cast<double>(l) / static_cast<double>(num_layers));
    g[l] = -0.5 * std::log1p(-d);
  }
  g[num_layers] = gamma_end;
  return g;
}

std::vector<double> uspa_rhos_log_det(int64_t num_layers, double rho_end) {
  KILN_CHECK(num_layers >= 1, "uspa_rhos_log_det: num_layers must be >= 1, got ", num_layers);
  KILN_CHECK(rho_end >= 0 && rho_end < 1, "uspa_rhos_log_det: rho_end must be in [0, 1), got ",
             rho_end);
  std::vector<double> r(static_cast<size_t>(num_layers + 1));
  for (int64_t l = 0; l <= num_layers; ++l) {
    r[l] = 1.0 - std::pow(1.0 - rho_end, static_cast<double>(l) / static_cast<double>(num_layers));
  }
  r[0] = 0.0;
  r[num_layers] = rho_end;
  return r;
}

std::vector<double> uspa_rhos(int64_t num_layers, double rho_start, double rho_end) {
  KILN_CHECK(num_layers >= 1, "uspa_rhos: num_layers must be >= 1, got ", num_layers);
  KILN_CHECK(rho_start >= 0 && rho_start <= rho_end && rho_end < 1,
             "uspa_rhos: needs 0 <= rho_start (", rho_start, ") <= rho_end (", rho_end, ") < 1");
  std::vector<double> r(static_cast<size_t>(num_layers + 1));
  for (int64_t l = 0; l <= num_layers; ++l) {
    r[l] = rho_start +
           (rho_end - rho_start) * static_cast<double>(l) / static_cast<double>(num_layers);
  }
  return r;
}

SpaBias spa_bias_from_matrix(const std::vector<double>& a, int64_t t) {
  check_size("spa_bias_from_matrix", t);
  KILN_CHECK(static_cast<int64_t>(a.size()) == t * t, "spa_bias_from_matrix: ", a.size(),
             " entries for a (", t, ", ", t, ") matrix");
  std::vector<double> log_a(static_cast<size_t>(t * t), -INFINITY);
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t k = 0; k <= i; ++k) {
      const double v = a[i * t + k];
      if (v > 0) log_a[i * t + k] = std::log(v);  // round-off below 0 counts as 0
    }
  }
  return bias_from_log_rows(t, log_a);
}

SpaBias espa_bias(int64_t t, double gamma_in, double gamma_out) {
  check_size("espa_bias", t);
  KILN_CHECK(gamma_out > 0 && gamma_out <= gamma_in && std::isfinite(gamma_out),
             "espa_bias: needs 0 < gamma_out (", gamma_out, ") <= gamma_in (", gamma_in, ")");
  const double a = std::exp(-gamma_out), b = std::exp(-gamma_in);
  const double sa = std::sqrt(1 - a * a), sb = std::sqrt(1 - b * b);
  const double log_a = -gamma_out;
  // log of the first column's factor a - b s(a) / s(b) and of the band
  // factor s(a) (a - b) / s(b); zero when gamma_in == gamma_out.
  const double first = a - b * sa / sb, band = sa * (a - b) / sb;
  const double log_first = first > 0 ? std::log(first) : -INFINITY;
  const double log_band = band > 0 ? std::log(band) : -INFINITY;
  const double log_diag = std::log(sa / sb);
  std::vector<double> m(static_cast<size_t>(t * t), -INFINITY);
  m[0] = 0.0;
  for (int64_t i = 1; i < t; ++i) {
    m[i * t] = static_cast<double>(i - 1) * log_a + log_first;
    for (int64_t k = 1; k < i; ++k)
      m[i * t + k] = static_cast<double>(i - k - 1) * log_a + log_band;
    m[i * t + i] = log_diag;
  }
  return bias_from_log_rows(t, m);
}

}  // namespace kiln::models::spa

namespace kiln::models::tat {

double leaky_relu_cmap(double c, double negative_slope) {
  const double a = negative_slope;
  const double cc = std::clamp(c, -1.0, 1.0);
  return ((1 - a) * (1 - a) * (std::sqrt(1 - cc * cc) + (std::numbers::pi - std::acos(cc)) * cc) /
              std::numbers::pi +
          2 * a * cc) /
         (1 + a * a);
}

double leaky_relu_negative_slope(int64_t depth, double eta) {
  KILN_CHECK(depth >= 1, "tat: depth must be >= 1, got ", depth);
  KILN_CHECK(eta > 0 && eta < 1, "tat: eta (the target C(0)) must be in (0, 1), got ", eta);
  // 1 - C^{o depth}(0) increases with the slope (slope 1 is linear: C(0) = 0).
  auto fn = [&](double slope) {
    double c = 0;
    for (int64_t l = 0; l < depth; ++l) c = leaky_relu_cmap(c, slope);
    return 1.0 - c;
  };
  const double target = 1.0 - eta;
  // Slope 0 (ReLU) gives the most correlated output a leaky ReLU can.
  KILN_CHECK(fn(0.0) <= target, "tat: eta ", eta, " is out of reach over ", depth,
             " leaky-ReLU layers (at most ", 1.0 - fn(0.0), "); lower tat_eta or add layers");
  double x = 0.5, lo = 0.0, hi = 1.0;
  for (int eval = 0; eval < 100; ++eval) {
    const double value = fn(x);
    if (std::abs(value - target) < 1e-8) return x;
    if (value > target) {
      hi = x;
      x = 0.5 * (x + lo);
    } else {
      lo = x;
      x = 0.5 * (x + hi);
    }
  }
  KILN_FAIL("tat: no leaky-ReLU slope reaches C(0) = ", eta, " over ", depth, " layers");
}

double leaky_relu_output_scale(double negative_slope) {
  return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
}

}  // namespace kiln::models::tat

namespace kiln::models {

void scaled_uniform_orthogonal_(const Tensor& weight, Generator& gen) {
  KILN_CHECK(weight.dim() >= 2, "scaled_uniform_orthogonal_: needs a (..., in, out) weight, got ",
             shape_str(weight.shape()));
  const int64_t in = weight.size(-2), out = weight.size(-1);
  const int64_t count = in * out == 0 ? 0 : weight.numel() / (in * out);
  const int64_t rows = std::max(in, out), cols = std::min(in, out);
  const double scale = std::max(std::sqrt(static_cast<double>(out) / static_cast<double>(in)), 1.0);
  std::vector<double> values(static_cast<size_t>(weight.numel()));
  for (int64_t m = 0; m < count; ++m) {
    // Q of the QR of a Gaussian (rows, cols) matrix (R's diagonal positive):
    // Gram-Schmidt on the columns, twice for orthogonality to round-off.
    std::vector<double> q = to_vector(normal({rows, cols}, 0.0, 1.0, gen, DType::kF64));
    for (int64_t j = 0; j < cols; ++j) {
      for (int pass = 0; pass < 2; ++pass) {
        for (int64_t p = 0; p < j; ++p) {
          double dot = 0;
          for (int64_t r = 0; r < rows; ++r) dot += q[r * cols + p] * q[r * cols + j];
          for (int64_t r = 0; r < rows; ++r) q[r * cols + j] -= dot * q[r * cols + p];
        }
      }
      double norm = 0;
      for (int64_t r = 0; r < rows; ++r) norm += q[r * cols + j] * q[r * cols + j];
      norm = std::sqrt(norm);
      KILN_CHECK(norm > 0, "scaled_uniform_orthogonal_: degenerate Gaussian draw");
      for (int64_t r = 0; r < rows; ++r) q[r * cols + j] /= norm;
    }
    double* dst = values.data() + m * in * out;
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t o = 0; o < out; ++o) {
        // in >= out: W = Q (orthonormal columns); else W = Q^T (orthonormal rows).
        dst[i * out + o] = scale * (in >= out ? q[i * cols + o] : q[o * cols + i]);
      }
    }
  }
  NoGradGuard no_grad;
  copy_(weight, from_vector(values, weight.shape(), DType::kF64));
}

}  // namespace kiln::models
