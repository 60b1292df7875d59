#include "support/gradcheck.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace kiln::testing {

std::vector<OpSample>& op_samples() {
  static std::vector<OpSample> samples;
  return samples;
}

std::vector<std::string>& forward_sampled_ops() {
  static std::vector<std::string> ops;
  return ops;
}

Tensor random_tensor(IntList shape, DType dtype, Generator& gen, double lo, double hi) {
  return to_dtype(uniform(shape, lo, hi, gen, DType::kF64), dtype);
}

Tensor away_from_zero(IntList shape, DType dtype, Generator& gen) {
  Tensor magnitude = uniform(shape, 0.2, 1.0, gen, DType::kF64);
  Tensor sign =
      sub(mul_scalar(bernoulli(shape, 0.5, gen, DType::kF64), 2.0), ones({}, DType::kF64));
  return to_dtype(mul(magnitude, sign), dtype);
}

namespace {

std::vector<int> differentiable(const OpSample& sample, const TensorList& inputs) {
  if (!sample.wrt.empty()) return sample.wrt;
  std::vector<int> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].defined() && is_floating(inputs[i].dtype())) out.push_back(static_cast<int>(i));
  }
  return out;
}

TensorList prepare(const OpSample& sample, DType dtype, uint64_t seed, std::vector<int>* wrt) {
  Generator gen(seed);
  TensorList inputs = sample.inputs(dtype, gen);
  *wrt = differentiable(sample, inputs);
  for (int i : *wrt) inputs[i] = clone(inputs[i]).set_requires_grad(true);
  return inputs;
}

// Projection of the output to a scalar: sum(out * r).
double project(const Tensor& out, const Tensor& r) {
  return sum(mul(to_dtype(out, DType::kF64), r)).item<double>();
}

std::string compare(const std::string& what, const std::vector<double>& got,
                    const std::vector<double>& want, double atol, double rtol) {
  if (got.size() != want.size()) {
    return absl::StrCat(what, ": ", got.size(), " values vs ", want.size());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= atol + rtol * std::abs(want[i]))) {
      return absl::StrCat(what, ": element ", i, " is ", got[i], ", expected ", want[i], " (error ",
                          err, ")");
    }
  }
  return "";
}

}  // namespace

std::string run_gradcheck(const OpSample& sample) {
  const uint64_t seed = 1234;
  std::vector<int> wrt;
  TensorList inputs = prepare(sample, DType::kF64, seed, &wrt);
  if (wrt.empty()) return "sample has no differentiable inputs";
  Tensor out = sample.apply(inputs);
  if (!out.requires_grad()) return "output does not require grad";
  Generator proj_gen(seed + 1);
  Tensor r = normal(out.shape(), 0.0, 1.0, proj_gen, DType::kF64);

  TensorList wrt_inputs;
  for (int i : wrt) wrt_inputs.push_back(inputs[i]);
  Tensor loss = sum(mul(to_dtype(out, DType::kF64), r));
  TensorList analytic = autograd::grad({loss}, {}, wrt_inputs);

  // Central differences on each element of each differentiable input.
  const double eps = sample.eps;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const Tensor& x = inputs[wrt[k]];
    Tensor flat = x.detach();  // contiguous clone: writes go to x's storage
    std::vector<double> numeric(static_cast<size_t>(x.numel()));
    double* data = flat.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      NoGradGuard no_grad;
      const double saved = data[i];
      data[i] = saved + eps;
      const double plus = project(sample.apply(inputs), r);
      data[i] = saved - eps;
      const double minus = project(sample.apply(inputs), r);
      data[i] = saved;
      numeric[i] = (plus - minus) / (2 * eps);
    }
    std::vector<double> got =
        analytic[k].defined() ? to_vector(analytic[k]) : std::vector<double>(numeric.size(), 0.0);
    std::string err = compare(absl::StrCat("f64 gradient of input ", wrt[k]), got, numeric,
                              sample.f64_tolerance * 0.1, sample.f64_tolerance);
    if (!err.empty()) return err;
  }

  if (!sample.check_f32) return "";
  // The f32 path (SIMD / oneDNN kernels) against the f64 reference.
  std::vector<int> wrt32;
  TensorList inputs32 = prepare(sample, DType::kF32, seed, &wrt32);
  Tensor out32 = sample.apply(inputs32);
  std::string err = compare("f32 output", to_vector(out32), to_vector(out), sample.f32_tolerance,
                            sample.f32_tolerance);
  if (!err.empty()) return err;
  TensorList wrt32_inputs;
  for (int i : wrt32) wrt32_inputs.push_back(inputs32[i]);
  Tensor loss32 = sum(mul(to_dtype(out32, DType::kF64), r));
  TensorList analytic32 = autograd::grad({loss32}, {}, wrt32_inputs);
  for (size_t k = 0; k < wrt32.size(); ++k) {
    if (!analytic[k].defined() && !analytic32[k].defined()) continue;
    err = compare(absl::StrCat("f32 gradient of input ", wrt32[k]), to_vector(analytic32[k]),
                  to_vector(analytic[k]), sample.f32_tolerance, sample.f32_tolerance);
    if (!err.empty()) return err;
  }
  return "";
}

void module_to_f64(nn::Module& module) {
  NoGradGuard no_grad;
  for (auto& [name, t] : module.state_dict()) {
    if (t.dtype() == DType::kF64 || !is_floating(t.dtype())) continue;
    const Tensor d = contiguous(to_dtype(t.detach(), DType::kF64));
    TensorImpl& impl = t.impl();
    impl.storage = d.storage();
    impl.strides = d.strides();
    impl.offset = d.offset();
    impl.dtype = DType::kF64;
    if (impl.autograd) impl.autograd->grad.reset();
  }
}

std::string gradcheck_function(const std::function<Tensor()>& f, const nn::NamedTensors& wrt,
                               int depth, double eps, double tolerance) {
  Tensor out = f();
  Generator gen(4321);
  const Tensor r = normal(out.shape(), 0.0, 1.0, gen, DType::kF64);
  TensorList leaves;
  for (const auto& [name, t] : wrt) leaves.push_back(t);
  const TensorList analytic = autograd::grad({sum(mul(to_dtype(out, DType::kF64), r))}, {}, leaves);
  // Groups in order of first appearance: name prefix -> indices into wrt.
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;
  for (size_t k = 0; k < wrt.size(); ++k) {
    const std::string& name = wrt[k].first;
    size_t end = 0;
    for (int d = 0; d < depth && end != std::string::npos; ++d) {
      end = name.find('.', end == 0 ? 0 : end + 1);
    }
    const std::string prefix = name.substr(0, end);
    if (groups.empty() || groups.back().first != prefix) groups.push_back({prefix, {}});
    groups.back().second.push_back(k);
  }
  for (const auto& [prefix, members] : groups) {
    double predicted = 0;
    std::vector<Tensor> directions;
    for (size_t k : members) {
      const Tensor& x = wrt[k].second;
      if (x.dtype() != DType::kF64 || !x.is_contiguous()) {
        return absl::StrCat(wrt[k].first, ": needs a contiguous f64 tensor");
      }
      directions.push_back(normal(x.shape(), 0.0, 1.0, gen, DType::kF64));
      if (analytic[k].defined()) {
        predicted += sum(mul(analytic[k], directions.back())).item<double>();
      }
    }
    NoGradGuard no_grad;
    auto shift = [&](double step) {
      for (size_t j = 0; j < members.size(); ++j) add_(wrt[members[j]].second, directions[j], step);
    };
    shift(eps);
    const double plus = project(f(), r);
    shift(-2 * eps);
    const double minus = project(f(), r);
    shift(eps);
    const double numeric = (plus - minus) / (2 * eps);
    const double err = std::abs(predicted - numeric);
    if (!(err <= tolerance * (1.0 + std::abs(numeric)))) {
      return absl::StrCat(prefix, ": directional derivative ", predicted, ", finite differences ",
                          numeric, " (error ", err, ")");
    }
  }
  return "";
}

std::string run_module_gradcheck(nn::Module& module, TensorList inputs,
                                 const std::function<Tensor(const TensorList&)>& apply,
                                 const ModuleCheckOptions& options) {
  std::vector<Tensor> saved;
  for (const auto& [name, b] : module.named_buffers()) saved.push_back(clone(b.detach()));
  auto restore = [&] {
    NoGradGuard no_grad;
    const nn::NamedTensors buffers = module.named_buffers();
    for (size_t i = 0; i < buffers.size(); ++i) copy_(buffers[i].second, saved[i]);
  };
  std::vector<std::string> names;
  TensorList wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !is_floating(inputs[i].dtype())) continue;
    if (inputs[i].dtype() != DType::kF64) return absl::StrCat("input ", i, " is not f64");
    inputs[i] = clone(inputs[i].detach()).set_requires_grad(true);
    names.push_back(absl::StrCat("input ", i));
    wrt.push_back(inputs[i]);
  }
  for (const auto& [name, p] : module.named_parameters()) {
    if (p.dtype() != DType::kF64) return absl::StrCat("parameter ", name, " is not f64");
    names.push_back(name);
    wrt.push_back(p);
  }
  restore();
  const Tensor out = apply(inputs);
  Generator proj_gen(4321);
  const Tensor r = normal(out.shape(), 0.0, 1.0, proj_gen, DType::kF64);
  const TensorList analytic = autograd::grad({sum(mul(to_dtype(out, DType::kF64), r))}, {}, wrt);
  const size_t n = wrt.size();
  const size_t checked =
      options.max_tensors > 0 ? std::min(n, static_cast<size_t>(options.max_tensors)) : n;
  for (size_t j = 0; j < checked; ++j) {
    const size_t k = j * n / checked;
    const int64_t numel = wrt[k].numel();
    const int64_t count = std::min(numel, options.max_elements);
    const std::vector<double> got = analytic[k].defined()
                                        ? to_vector(analytic[k])
                                        : std::vector<double>(static_cast<size_t>(numel), 0.0);
    double* data = wrt[k].data<double>();
    for (int64_t e = 0; e < count; ++e) {
      const int64_t i = e * numel / count;
      NoGradGuard no_grad;
      const double value = data[i];
      data[i] = value + options.eps;
      restore();
      const double plus = project(apply(inputs), r);
      data[i] = value - options.eps;
      restore();
      const double minus = project(apply(inputs), r);
      data[i] = value;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double err = std::abs(got[static_cast<size_t>(i)] - numeric);
      if (!(err <= options.tolerance * (0.1 + std::abs(numeric)))) {
        return absl::StrCat(names[k], " element ", i, ": analytic ", got[static_cast<size_t>(i)],
                            ", numeric ", numeric);
      }
    }
  }
  restore();
  return "";
}

}  // namespace kiln::testing
