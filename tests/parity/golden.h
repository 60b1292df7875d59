// Helpers of the PyTorch parity tests: loading a golden fixture written by
// tools/golden/generate.py, its scalar parameters, the projection-loss
// gradients, and an elementwise closeness check that reports the worst
// element.
//
// A fixture holds the inputs (F32; targets I64, masks BOOL), `proj`, the
// expected `out` and `grad_<input>` (F64, exact to float64 rounding), and
// the op's parameters in __metadata__.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kiln/autograd/engine.h"
#include "kiln/io/safetensors.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/reduce.h"
#include "kiln/tensor/tensor.h"

namespace kiln::parity {

// |actual - expected| <= atol + rtol * |expected| for every element.
struct Tolerance {
  double atol;
  double rtol;
};

// The tolerances of the parity tests. Inputs are exact in both dtypes and
// the expected values are exact to float64 rounding, so the errors are kiln's
// own rounding: f32 results (sums of at most a few dozen products of O(1)
// values) agree to a few float32 ulps; f64 to a few float64 ulps.
inline Tolerance tolerance(DType dtype) {
  return dtype == DType::kF64 ? Tolerance{1e-12, 1e-10} : Tolerance{1e-5, 1e-5};
}

class Golden {
 public:
  // Loads tests/parity/golden/<name>.safetensors; throws (failing the test)
  // with the loader's message if it is missing or corrupt.
  static Golden load(const std::string& name) {
    const std::string path = absl::StrCat(KILN_GOLDEN_DIR, "/", name, ".safetensors");
    absl::StatusOr<SafetensorsFile> file = load_safetensors(path);
    KILN_CHECK(file.ok(), "golden fixture: ", file.status().ToString(),
               " (regenerate with /usr/bin/python3 tools/golden/generate.py)");
    return Golden(name, *std::move(file));
  }

  const std::string& name() const { return name_; }
  bool has(const std::string& tensor) const { return file_.find(tensor) != nullptr; }
  // The stored tensors' names, in file order.
  const std::vector<std::string>& names() const { return file_.names; }

  // The stored tensor as is.
  const Tensor& raw(const std::string& tensor) const {
    const Tensor* t = file_.find(tensor);
    KILN_CHECK(t != nullptr, "golden fixture ", name_, " has no tensor '", tensor, "'");
    return *t;
  }
  // A fresh copy converted to `dtype`, not requiring grad.
  Tensor get(const std::string& tensor, DType dtype) const {
    const Tensor& t = raw(tensor);
    Tensor out = Tensor::empty(t.shape(), dtype);
    copy_into(out, t);
    return out;
  }
  // A fresh leaf requiring grad.
  Tensor leaf(const std::string& tensor, DType dtype) const {
    Tensor t = get(tensor, dtype);
    t.set_requires_grad(true);
    return t;
  }

  std::string meta(const std::string& key) const {
    auto it = file_.metadata.find(key);
    KILN_CHECK(it != file_.metadata.end(), "golden fixture ", name_, " has no metadata '", key,
               "'");
    return it->second;
  }
  // "2 2" -> {2, 2}
  std::vector<int64_t> meta_ints(const std::string& key) const {
    std::vector<int64_t> values;
    for (absl::string_view part : absl::StrSplit(meta(key), ' ', absl::SkipEmpty())) {
      int64_t v = 0;
      KILN_CHECK(absl::SimpleAtoi(part, &v), "golden fixture ", name_, ": metadata '", key,
                 "' is not integers: ", meta(key));
      values.push_back(v);
    }
    return values;
  }
  int64_t meta_int(const std::string& key) const {
    const std::vector<int64_t> v = meta_ints(key);
    KILN_CHECK(v.size() == 1, "golden fixture ", name_, ": metadata '", key,
               "' is not one integer");
    return v[0];
  }
  double meta_double(const std::string& key) const {
    double v = 0;
    KILN_CHECK(absl::SimpleAtod(meta(key), &v), "golden fixture ", name_, ": metadata '", key,
               "' is not a number: ", meta(key));
    return v;
  }

 private:
  Golden(std::string name, SafetensorsFile file) : name_(std::move(name)), file_(std::move(file)) {}

  std::string name_;
  SafetensorsFile file_;
};

// Gradients of sum(out * proj) with respect to `inputs`, as the generator
// computes them.
inline TensorList projected_grads(const Tensor& out, const Tensor& proj, const TensorList& inputs) {
  const Tensor loss = sum(mul(out, proj));
  return autograd::grad({loss}, {}, inputs);
}

// Elementwise closeness in double, naming the worst element on failure.
inline ::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                            Tolerance tol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "result is undefined";
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << shape_str(actual.shape()) << ", expected " << shape_str(expected.shape());
  }
  const std::vector<double> a = to_vector(actual);
  const std::vector<double> e = to_vector(expected);
  double worst_excess = 0;  // error / allowed, > 1 fails
  double worst_error = 0;
  size_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double error = std::abs(a[i] - e[i]);
    const double allowed = tol.atol + tol.rtol * std::abs(e[i]);
    const double excess = std::isnan(error) ? INFINITY : error / allowed;
    if (excess > worst_excess || i == 0) {
      worst_excess = excess;
      worst_error = error;
      worst = i;
    }
  }
  if (worst_excess <= 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "element " << worst << " (row-major) is " << a[worst] << ", expected " << e[worst]
         << ": error " << worst_error << " exceeds atol " << tol.atol << " + rtol " << tol.rtol
         << " * |expected|";
}

// The name of a dtype for test messages.
inline std::string dtype_label(DType dtype) { return std::string(dtype_name(dtype)); }

}  // namespace kiln::parity
