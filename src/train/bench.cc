#include "kiln/train/bench.h"

#include "absl/strings/str_cat.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "kiln/autograd/engine.h"
#include "kiln/core/context.h"
#include "kiln/ops/autocast.h"
#include "kiln/ops/flops.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/random.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

using Clock = std::chrono::steady_clock;

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// Times `step` by the benchmarks.md rule; `flops` counts one step.
template <class Step>
BenchResult time_steps(const std::string& name, const BenchOptions& options,
                       int64_t examples_per_step, Step&& step) {
  BenchResult r;
  r.name = name;
  r.examples_per_step = examples_per_step;
  for (int i = 0; i < options.warmup_steps; ++i) step();
  {
    FlopCounter counter;
    step();
    r.flops_per_step = counter.flops();
  }
  for (int i = 0; i < options.timed_steps; ++i) {
    const Clock::time_point start = Clock::now();
    step();
    r.step_seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::vector<double> sorted = r.step_seconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  r.median_step_s = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  r.min_step_s = sorted.front();
  r.max_step_s = sorted.back();
  r.examples_per_s = static_cast<double>(examples_per_step) / r.median_step_s;
  r.gflops = static_cast<double>(r.flops_per_step) * 1e-9 / r.median_step_s;
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace

Json BenchResult::to_json() const {
  return {{"name", name},
          {"median_step_s", median_step_s},
          {"min_step_s", min_step_s},
          {"max_step_s", max_step_s},
          {"step_seconds", step_seconds},
          {"examples_per_step", examples_per_step},
          {"examples_per_s", examples_per_s},
          {"flops_per_step", flops_per_step},
          {"gflops", gflops},
          {"peak_rss_bytes", peak_rss_bytes}};
}

absl::StatusOr<BenchResult> bench_config(const ExperimentConfig& config,
                                         const BenchOptions& options) {
  Context context({.num_threads = config.train.threads, .seed = config.train.seed});
  ContextScope scope(context);
  const DataSignature signature = data_signature(config.data);
  Generator init_gen(config.train.seed * 2 + 1);
  auto noise_gen = std::make_shared<Generator>(config.train.seed * 2 + 2);
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      build_model(config.model.name, config.model.options,
                  {.input_shape = signature.input_shape,
                   .num_classes = signature.num_classes,
                   .init_gen = &init_gen,
                   .dropout_gen = noise_gen},
                  config.file);
  if (!model.ok()) return model.status();
  std::unique_ptr<Task> task;
  try {
    task =
        build_task(config, *model, build_optimizer(config.optimizer, (*model)->named_parameters()));
  } catch (const Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(config.file, ": ", e.what()));
  }

  // Random inputs, generated once.
  const int64_t b = config.data.batch_size;
  Generator data_gen(config.train.seed + 12345);
  data::Batch batch;
  if (signature.tokens) {
    batch.set(data::kTokensKey,
              randint({b, signature.input_shape[0] + 1}, 0, signature.num_classes, data_gen));
  } else {
    Shape shape{b};
    for (int64_t s : signature.input_shape) shape.push_back(s);
    batch.set(data::kImageKey, normal(shape, 0, 1, data_gen));
    batch.set(data::kLabelKey, randint({b}, 0, signature.num_classes, data_gen));
  }
  const optim::Schedule schedule =
      build_schedule(config.schedule, config.optimizer.lr, config.train.steps);
  int64_t step = 0;
  const AutocastScope autocast(compute_dtype(config.train));
  try {
    // Named after the config file: configs/bench/gpt_small.json is "gpt_small".
    return time_steps(std::filesystem::path(config.file).stem().string(), options, b, [&] {
      ++step;
      task->train_step(batch, {.step = step, .lr = schedule(step - 1)});
    });
  } catch (const Error& e) {
    return absl::InternalError(absl::StrCat("bench: ", e.what()));
  }
}

std::vector<BenchResult> bench_ops(const BenchOptions& options) {
  std::vector<BenchResult> results;
  Generator gen(0);
  {
    Tensor a = normal({1024, 1024}, 0, 1, gen), b = normal({1024, 1024}, 0, 1, gen);
    results.push_back(time_steps("matmul_1024", options, 1, [&] { matmul(a, b); }));
  }
  {
    Tensor x = normal({32, 16, 16, 256}, 0, 1, gen).set_requires_grad(true);
    Tensor w = normal({3, 3, 256, 256}, 0, 0.02, gen).set_requires_grad(true);
    Tensor dy = normal({32, 16, 16, 256}, 0, 1, gen);
    Conv2dOptions conv;
    conv.padding = {1, 1, 1, 1};
    results.push_back(time_steps("conv3x3_256", options, 32, [&] {
      Tensor y = conv2d(x, w, Tensor(), conv);
      autograd::grad({y}, {dy}, {x, w});
    }));
  }
  return results;
}

}  // namespace kiln::train
