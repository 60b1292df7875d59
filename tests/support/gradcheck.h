// Gradient checks generated from src/ops/op_list.def.
//
// Each op registers one or more samples with KILN_OP_SAMPLE: a function that
// builds the inputs for a dtype and a function that applies the op. The
// gradcheck test runs every sample in f64 against central finite
// differences of a random projection of the output to a scalar, then (for
// ops with a fast f32 path) compares the f32 gradients with the f64 ones.
// Ops of kind nondiff register KILN_FORWARD_SAMPLE tests instead. The
// coverage test fails if an op in the list has neither.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln::testing {

struct OpSample {
  std::string op;       // name in op_list.def
  std::string variant;  // what this sample exercises
  // Inputs in the given floating dtype (integer/bool inputs keep their own).
  std::function<TensorList(DType dtype, Generator& gen)> inputs;
  std::function<Tensor(const TensorList& inputs)> apply;
  // Indices of the inputs to differentiate; empty means every floating one.
  std::vector<int> wrt;
  // Finite-difference step and tolerance of the f64 check.
  double eps = 1e-6;
  double f64_tolerance = 1e-5;
  // Also run in f32 and compare gradients with f64 (fast kernels).
  bool check_f32 = true;
  double f32_tolerance = 2e-3;
};

std::vector<OpSample>& op_samples();
std::vector<std::string>& forward_sampled_ops();

struct OpSampleRegistration {
  explicit OpSampleRegistration(OpSample sample) { op_samples().push_back(std::move(sample)); }
};
struct ForwardSampleRegistration {
  explicit ForwardSampleRegistration(const char* op) { forward_sampled_ops().push_back(op); }
};

// Runs the checks; returns a description of the first failure, or "".
std::string run_gradcheck(const OpSample& sample);

// Random inputs helpers: values uniform in [lo, hi), as dtype.
Tensor random_tensor(IntList shape, DType dtype, Generator& gen, double lo = -1.0, double hi = 1.0);
// Values whose magnitude is in [0.2, 1) with random sign (away from kinks at 0).
Tensor away_from_zero(IntList shape, DType dtype, Generator& gen);

// Whole modules: converts every parameter and buffer of `module` to f64 in
// place (the module's own handles see the change), so a model built in f32
// can be gradient-checked in f64.
void module_to_f64(nn::Module& module);
// Checks the gradient of a random projection of f() against central
// differences along one random direction per group of tensors (f64 leaves
// that require grad): tensors whose names share the first `depth` dotted
// components form a group ("slow.stages.1.weight" and "slow.stages.1.bias"
// at depth 3), so a whole model costs two forwards per group. Returns a
// description of the first mismatch (naming the group), or "".
std::string gradcheck_function(const std::function<Tensor()>& f, const nn::NamedTensors& wrt,
                               int depth = 100, double eps = 1e-6, double tolerance = 1e-6);

// Gradient check of a module (built with f64 parameters): the gradients of
// a random projection of apply(inputs) with respect to the floating inputs
// and every parameter against central differences, on up to max_elements
// elements (spread evenly) of each. The module's buffers (spectral-norm
// vectors, running statistics) are restored before every evaluation, so a
// training-mode forward that updates them is checked as a pure function.
struct ModuleCheckOptions {
  double eps = 1e-6;
  double tolerance = 1e-5;
  int64_t max_elements = 8;
  // Check at most this many of the tensors (inputs, then parameters),
  // spread evenly (0: all).
  int64_t max_tensors = 0;
};
std::string run_module_gradcheck(nn::Module& module, TensorList inputs,
                                 const std::function<Tensor(const TensorList&)>& apply,
                                 const ModuleCheckOptions& options = {});

}  // namespace kiln::testing

#define KILN_CONCAT_INNER(a, b) a##b
#define KILN_CONCAT(a, b) KILN_CONCAT_INNER(a, b)

// KILN_OP_SAMPLE({.op = "exp", .variant = "...", .inputs = ..., .apply = ...});
#define KILN_OP_SAMPLE(...)                                 \
  static ::kiln::testing::OpSampleRegistration KILN_CONCAT( \
      kiln_op_sample_, __COUNTER__)(::kiln::testing::OpSample __VA_ARGS__)

// A forward-value test for a nondiff op: registers coverage and defines a
// GoogleTest body.
#define KILN_FORWARD_SAMPLE(op_name, test_name)                                         \
  static ::kiln::testing::ForwardSampleRegistration KILN_CONCAT(kiln_fwd_sample_,       \
                                                                __COUNTER__)(#op_name); \
  TEST(ForwardSample_##op_name, test_name)
