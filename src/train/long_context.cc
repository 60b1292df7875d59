#include "kiln/train/long_context.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/core/error.h"

namespace kiln::train {
namespace {

struct LinearFit {
  double a = 0, c = 0, sse = std::numeric_limits<double>::infinity();
};

// Weighted least squares of y = a * x^b + c for a fixed b.
LinearFit fit_fixed_exponent(const std::vector<double>& x, const std::vector<double>& y,
                             const std::vector<double>& w, double b) {
  double sw = 0, su = 0, sy = 0, suu = 0, suy = 0;
  std::vector<double> u(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    u[i] = std::pow(x[i], b);
    sw += w[i];
    su += w[i] * u[i];
    sy += w[i] * y[i];
    suu += w[i] * u[i] * u[i];
    suy += w[i] * u[i] * y[i];
  }
  LinearFit f;
  if (sw <= 0) return f;
  const double det = sw * suu - su * su;
  // u constant (b = 0 or a single distinct x): only the mean is identifiable.
  if (std::abs(det) <= 1e-12 * std::max(1.0, sw * suu)) {
    f.a = 0;
    f.c = sy / sw;
  } else {
    f.a = (sw * suy - su * sy) / det;
    f.c = (sy - f.a * su) / sw;
  }
  f.sse = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double r = f.a * u[i] + f.c - y[i];
    f.sse += w[i] * r * r;
  }
  return f;
}

}  // namespace

double OffsetPowerLawFit::operator()(double x) const { return a * std::pow(x, b) + c; }

OffsetPowerLawFit fit_offset_power_law(const std::vector<double>& x, const std::vector<double>& y,
                                       const std::vector<double>& weights, double b_min,
                                       double b_max) {
  KILN_CHECK(x.size() == y.size(), "fit_offset_power_law: ", x.size(), " x values but ", y.size(),
             " y values");
  KILN_CHECK(weights.empty() || weights.size() == x.size(),
             "fit_offset_power_law: ", weights.size(), " weights for ", x.size(), " points");
  KILN_CHECK(b_min < b_max, "fit_offset_power_law: needs b_min < b_max");
  OffsetPowerLawFit fit;
  if (x.size() < 3) return fit;
  for (double v : x) {
    if (!(v > 0) || !std::isfinite(v)) return fit;
  }
  for (double v : y) {
    if (!std::isfinite(v)) return fit;
  }
  std::vector<double> w = weights.empty() ? std::vector<double>(x.size(), 1.0) : weights;
  double total_w = 0;
  for (double v : w) {
    KILN_CHECK(v >= 0 && std::isfinite(v), "fit_offset_power_law: weights must be finite and >= 0");
    total_w += v;
  }
  if (total_w <= 0) return fit;

  constexpr int kGrid = 600;
  const double step = (b_max - b_min) / kGrid;
  double best_b = b_min;
  LinearFit best;
  for (int i = 0; i <= kGrid; ++i) {
    const double b = b_min + step * i;
    const LinearFit f = fit_fixed_exponent(x, y, w, b);
    if (f.sse < best.sse) {
      best = f;
      best_b = b;
    }
  }
  // Golden-section search on the bracket around the best grid point.
  double lo = std::max(b_min, best_b - step), hi = std::min(b_max, best_b + step);
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double m1 = hi - phi * (hi - lo), m2 = lo + phi * (hi - lo);
  LinearFit f1 = fit_fixed_exponent(x, y, w, m1), f2 = fit_fixed_exponent(x, y, w, m2);
  for (int it = 0; it < 100 && hi - lo > 1e-12; ++it) {
    if (f1.sse <= f2.sse) {
      hi = m2;
      m2 = m1;
      f2 = f1;
      m1 = hi - phi * (hi - lo);
      f1 = fit_fixed_exponent(x, y, w, m1);
    } else {
      lo = m1;
      m1 = m2;
      f1 = f2;
      m2 = lo + phi * (hi - lo);
      f2 = fit_fixed_exponent(x, y, w, m2);
    }
  }
  const double refined_b = f1.sse <= f2.sse ? m1 : m2;
  const LinearFit refined = f1.sse <= f2.sse ? f1 : f2;
  if (refined.sse <= best.sse) {
    best = refined;
    best_b = refined_b;
  }
  fit.a = best.a;
  fit.b = best_b;
  fit.c = best.c;
  fit.rmse = std::sqrt(best.sse / total_w);
  fit.ok = std::isfinite(fit.a) && std::isfinite(fit.c);
  return fit;
}

void PositionNll::add(const std::vector<double>& nll, int64_t rows, int64_t t) {
  KILN_CHECK(static_cast<int64_t>(nll.size()) == rows * t, "PositionNll: ", nll.size(),
             " values for (", rows, ", ", t, ")");
  if (static_cast<int64_t>(sum.size()) < t) {
    sum.resize(static_cast<size_t>(t), 0.0);
    count.resize(static_cast<size_t>(t), 0);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t p = 0; p < t; ++p) {
      sum[p] += nll[r * t + p];
      ++count[p];
    }
  }
}

std::vector<double> PositionNll::mean() const {
  std::vector<double> m(sum.size(), 0.0);
  for (size_t p = 0; p < sum.size(); ++p) {
    m[p] = count[p] > 0 ? sum[p] / static_cast<double>(count[p]) : 0.0;
  }
  return m;
}

std::vector<double> PositionNll::cumulative_mean() const {
  const std::vector<double> m = mean();
  std::vector<double> c(m.size(), 0.0);
  double running = 0;
  for (size_t p = 0; p < m.size(); ++p) {
    running += m[p];
    c[p] = running / static_cast<double>(p + 1);
  }
  return c;
}

std::vector<std::pair<int64_t, int64_t>> log_position_buckets(int64_t t, int64_t buckets) {
  KILN_CHECK(t >= 1 && buckets >= 1, "log_position_buckets: needs t >= 1 and buckets >= 1, got ", t,
             " and ", buckets);
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t lo = 0;
  for (int64_t i = 1; i <= buckets && lo < t; ++i) {
    // Upper edge of bucket i on a geometric grid from 1 to t.
    int64_t hi = static_cast<int64_t>(
        std::llround(std::pow(static_cast<double>(t), static_cast<double>(i) / buckets)));
    hi = std::clamp<int64_t>(hi, lo + 1, t);
    if (i == buckets) hi = t;
    out.emplace_back(lo, hi);
    lo = hi;
  }
  return out;
}

std::string needle_sentence(const std::string& value, const NeedleOptions& options) {
  return "The " + options.key + " is " + value + ".";
}

std::string needle_query(const NeedleOptions& options) {
  std::string q = options.query_prefix;
  const std::string tag = "<key>";
  for (size_t at = q.find(tag); at != std::string::npos; at = q.find(tag, at)) {
    q.replace(at, tag.size(), options.key);
    at += options.key.size();
  }
  return q;
}

NeedleExample make_needle_example(const std::string& source, int64_t source_offset,
                                  int64_t context_len, double depth, const std::string& value,
                                  const NeedleOptions& options) {
  KILN_CHECK(!source.empty(), "make_needle_example: empty haystack source");
  KILN_CHECK(depth >= 0 && depth <= 1, "make_needle_example: depth must be in [0, 1], got ", depth);
  // The needle is its own sentence: a space (or nothing at the very start)
  // separates it from the haystack around it.
  const std::string needle = needle_sentence(value, options) + " ";
  const std::string query = needle_query(options);
  const int64_t hay_len = context_len - static_cast<int64_t>(needle.size() + query.size());
  KILN_CHECK(hay_len >= 0, "make_needle_example: context_len ", context_len,
             " cannot hold the needle and the query (", needle.size() + query.size(), " bytes)");
  const int64_t n = static_cast<int64_t>(source.size());
  std::string hay;
  hay.reserve(static_cast<size_t>(hay_len));
  int64_t at = ((source_offset % n) + n) % n;
  while (static_cast<int64_t>(hay.size()) < hay_len) {
    const int64_t take = std::min(hay_len - static_cast<int64_t>(hay.size()), n - at);
    hay.append(source, static_cast<size_t>(at), static_cast<size_t>(take));
    at = (at + take) % n;
  }
  // Sentence boundaries: positions just after ". ", ".\n" or "\n" (and the
  // two ends).
  auto is_boundary = [&](int64_t p) {
    if (p <= 0 || p >= hay_len) return true;
    if (hay[p - 1] == '\n') return true;
    return p >= 2 && hay[p - 2] == '.' && (hay[p - 1] == ' ' || hay[p - 1] == '\n');
  };
  const int64_t target = static_cast<int64_t>(std::llround(depth * static_cast<double>(hay_len)));
  int64_t insert = target;
  for (int64_t d = 0; d <= 64; ++d) {
    if (target - d >= 0 && is_boundary(target - d)) {
      insert = target - d;
      break;
    }
    if (target + d <= hay_len && is_boundary(target + d)) {
      insert = target + d;
      break;
    }
  }
  NeedleExample ex;
  ex.prompt = hay.substr(0, static_cast<size_t>(insert)) + needle +
              hay.substr(static_cast<size_t>(insert)) + query;
  ex.needle_offset = insert;
  ex.realised_depth =
      hay_len > 0 ? static_cast<double>(insert) / static_cast<double>(hay_len) : 0.0;
  ex.answer = value;
  KILN_CHECK(static_cast<int64_t>(ex.prompt.size()) == context_len,
             "make_needle_example: internal length mismatch");
  return ex;
}

}  // namespace kiln::train
