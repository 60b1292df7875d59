// Long-context evaluation of language models, after the Gemini 1.5 report's
// methodology (papers.md section 10(c)):
//
// - negative log-likelihood by token position: per-position means, their
//   cumulative average L(x) (the mean NLL of positions 1..x) and a power-law
//   fit L(x) = a * x^b + c;
// - a needle in a haystack: a key-value sentence ("The magic number is
//   4721.") inserted at a chosen depth of a long text, followed by a query
//   whose continuation is the value.
//
// Plain numerics and string handling: no tensors, no models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::train {

// y = a * x^b + c fitted by least squares on (x, y), x > 0.
struct OffsetPowerLawFit {
  double a = 0;
  double b = 0;
  double c = 0;
  double rmse = 0;  // root mean squared residual of the fit
  bool ok = false;  // false when there are fewer than 3 points or x <= 0
  double operator()(double x) const;
};

// Variable projection: for a fixed exponent b the best (a, c) is a linear
// least-squares solution, so only b is searched (a grid over
// [b_min, b_max], then golden-section refinement around the best cell).
// Optional weights (one per point, >= 0; empty means all 1).
OffsetPowerLawFit fit_offset_power_law(const std::vector<double>& x, const std::vector<double>& y,
                                       const std::vector<double>& weights = {}, double b_min = -4.0,
                                       double b_max = 2.0);

// Per-position statistics of an (N, T) array of token NLLs accumulated
// over sequences.
struct PositionNll {
  std::vector<double> sum;     // (T): summed NLL at position t (0-based)
  std::vector<int64_t> count;  // (T)
  void add(const std::vector<double>& nll, int64_t rows, int64_t t);  // nll (rows, T)
  std::vector<double> mean() const;
  // Cumulative average: entry t is the mean NLL of positions 0..t.
  std::vector<double> cumulative_mean() const;
};

// Bucket edges over positions [0, t): `buckets` half-open ranges [lo, hi),
// geometrically spaced (the first holds position 0 alone when possible),
// without empty or repeated buckets.
std::vector<std::pair<int64_t, int64_t>> log_position_buckets(int64_t t, int64_t buckets);

// The needle-in-a-haystack example builder.
struct NeedleOptions {
  std::string key = "magic number";  // "The <key> is <value>."
  // The query after the haystack; the model should continue it with the value.
  std::string query_prefix = "\nWhat is the <key>? The <key> is ";
};

// "The magic number is 4721."
std::string needle_sentence(const std::string& value, const NeedleOptions& options = {});
std::string needle_query(const NeedleOptions& options = {});

struct NeedleExample {
  std::string prompt;         // haystack with the needle, then the query: context_len bytes
  int64_t needle_offset = 0;  // byte offset of the needle in prompt
  double realised_depth = 0;  // needle_offset / (haystack bytes)
  std::string answer;         // the value the prompt should be continued with
};

// Takes haystack bytes from `source` starting at `source_offset` (wrapping
// around), enough that haystack + needle + query is exactly `context_len`
// bytes, and inserts the needle at the sentence boundary (just after ". ",
// ".\n" or "\n") nearest to depth * haystack length; depth 0 puts it first,
// depth 1 last (right before the query). A boundary is searched within
// +-64 bytes; without one the needle goes at the exact byte. Throws
// kiln::Error if context_len is too short to hold the needle and the query.
NeedleExample make_needle_example(const std::string& source, int64_t source_offset,
                                  int64_t context_len, double depth, const std::string& value,
                                  const NeedleOptions& options = {});

}  // namespace kiln::train
