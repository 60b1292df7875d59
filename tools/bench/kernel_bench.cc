// Kernel benchmarks (Google Benchmark): the op-level targets of the core
// issue. Run all cores:
//   build/release/tools/kiln_kernel_bench --benchmark_min_time=1
// Counters: GFLOP/s for matmul and convolution (2 FLOPs per multiply-add),
// GB/s (bytes read + written) for the memory-bound kernels, with a STREAM
// triad as the machine's reference bandwidth. On a shared machine the triad
// drifts between runs: compare against it with repetitions interleaved, as
// docs/performance.md does (--benchmark_repetitions=10
// --benchmark_enable_random_interleaving=true).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <vector>

#include "kiln/kiln.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace {

using namespace kiln;

void report_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

void report_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * 1e-9 * state.iterations(),
                                              benchmark::Counter::kIsRate);
}

// a = b + s * c over 16M floats: the bandwidth the memory-bound kernels are
// measured against (12 bytes per element moved).
void BM_Triad(benchmark::State& state) {
  const int64_t n = 16 << 20;
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const float s = 3.0f;
  for (auto _ : state) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    benchmark::DoNotOptimize(a.data());
  }
  report_bytes(state, 12.0 * n);
}
BENCHMARK(BM_Triad)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_MatmulKiln(benchmark::State& state, DType dtype) {
  const int64_t n = 1024;
  Generator gen(0);
  Tensor a = to_dtype(normal({n, n}, 0, 1, gen), dtype);
  Tensor b = to_dtype(normal({n, n}, 0, 1, gen), dtype);
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).raw_data());
  report_flops(state, 2.0 * n * n * n);
}
BENCHMARK_CAPTURE(BM_MatmulKiln, f32, DType::kF32)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatmulKiln, bf16, DType::kBF16)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same product through oneDNN's matmul primitive directly: the bar for
// kiln's matmul op (within 10%).
void BM_MatmulOnednnDirect(benchmark::State& state, dnnl::memory::data_type type) {
  const int64_t n = 1024;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  dnnl::memory::desc md({n, n}, type, dnnl::memory::format_tag::ab);
  dnnl::memory::desc out({n, n}, type, dnnl::memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, out), engine);
  } catch (const dnnl::error&) {
    // oneDNN 2.6 has no bf16 matmul on CPUs without AVX-512 (kiln's matmul
    // then computes in f32 and rounds, see kernels/onednn/matmul.cc).
    state.SkipWithError("oneDNN has no matmul for this data type on this CPU");
    return;
  }
  dnnl::matmul prim(pd);
  dnnl::memory a(md, engine), b(md, engine), c(out, engine);
  std::memset(a.get_data_handle(), 0, md.get_size());
  std::memset(b.get_data_handle(), 0, md.get_size());
  for (auto _ : state) {
    prim.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
  }
  report_flops(state, 2.0 * n * n * n);
}
BENCHMARK_CAPTURE(BM_MatmulOnednnDirect, f32, dnnl::memory::data_type::f32)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatmulOnednnDirect, bf16, dnnl::memory::data_type::bf16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// conv3x3_256 of benchmarks.md: batch 32, 16x16, 256 -> 256, stride 1, pad 1;
// forward, backward data and backward weights.
void BM_Conv3x3Train(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({32, 16, 16, 256}, 0, 1, gen).set_requires_grad(true);
  Tensor w = normal({3, 3, 256, 256}, 0, 0.02, gen).set_requires_grad(true);
  Tensor dy = normal({32, 16, 16, 256}, 0, 1, gen);
  Conv2dOptions options;
  options.padding = {1, 1, 1, 1};
  for (auto _ : state) {
    Tensor y = conv2d(x, w, Tensor(), options);
    TensorList g = autograd::grad({y}, {dy}, {x, w});
    benchmark::DoNotOptimize(g[0].raw_data());
  }
  report_flops(state, 28991029248.0);
}
BENCHMARK(BM_Conv3x3Train)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Conv3x3Forward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({32, 16, 16, 256}, 0, 1, gen);
  Tensor w = normal({3, 3, 256, 256}, 0, 0.02, gen);
  Conv2dOptions options;
  options.padding = {1, 1, 1, 1};
  for (auto _ : state) benchmark::DoNotOptimize(conv2d(x, w, Tensor(), options).raw_data());
  report_flops(state, 28991029248.0 / 3);
}
BENCHMARK(BM_Conv3x3Forward)->UseRealTime()->Unit(benchmark::kMillisecond);

// GELU (tanh form) forward over 16M floats: 8 bytes per element.
void BM_GeluForward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({16 << 20}, 0, 1, gen);
  for (auto _ : state) benchmark::DoNotOptimize(gelu(x).raw_data());
  report_bytes(state, 8.0 * (16 << 20));
}
BENCHMARK(BM_GeluForward)->UseRealTime()->Unit(benchmark::kMillisecond);

// GELU backward: reads x and dy, writes dx (12 bytes per element).
void BM_GeluBackward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({16 << 20}, 0, 1, gen).set_requires_grad(true);
  Tensor dy = normal({16 << 20}, 0, 1, gen);
  Tensor y = gelu(x);
  for (auto _ : state) {
    TensorList g = autograd::grad({y}, {dy}, {x}, /*retain_graph=*/true);
    benchmark::DoNotOptimize(g[0].raw_data());
  }
  report_bytes(state, 12.0 * (16 << 20));
}
BENCHMARK(BM_GeluBackward)->UseRealTime()->Unit(benchmark::kMillisecond);

// Softmax over rows of 1024, 16M floats: 8 bytes per element.
void BM_SoftmaxForward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({16 << 10, 1024}, 0, 1, gen);
  for (auto _ : state) benchmark::DoNotOptimize(softmax(x).raw_data());
  report_bytes(state, 8.0 * (16 << 20));
}
BENCHMARK(BM_SoftmaxForward)->UseRealTime()->Unit(benchmark::kMillisecond);

// LayerNorm over (8192, 512) with scale and offset: forward reads x and
// writes y (8 bytes per element).
void BM_LayerNormForward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({8192, 512}, 0, 1, gen);
  Tensor gamma = ones({512}), beta = zeros({512});
  for (auto _ : state) benchmark::DoNotOptimize(layer_norm(x, gamma, beta).raw_data());
  report_bytes(state, 8.0 * 8192 * 512);
}
BENCHMARK(BM_LayerNormForward)->UseRealTime()->Unit(benchmark::kMillisecond);

// Backward reads x and dy, writes dx (12 bytes per element; the parameter
// gradients are small).
void BM_LayerNormBackward(benchmark::State& state) {
  Generator gen(0);
  Tensor x = normal({8192, 512}, 0, 1, gen).set_requires_grad(true);
  Tensor gamma = ones({512}).set_requires_grad(true), beta = zeros({512}).set_requires_grad(true);
  Tensor dy = normal({8192, 512}, 0, 1, gen);
  Tensor y = layer_norm(x, gamma, beta);
  for (auto _ : state) {
    TensorList g = autograd::grad({y}, {dy}, {x, gamma, beta}, /*retain_graph=*/true);
    benchmark::DoNotOptimize(g[0].raw_data());
  }
  report_bytes(state, 12.0 * 8192 * 512);
}
BENCHMARK(BM_LayerNormBackward)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
