#include "kiln/train/linear_eval.h"

#include <cmath>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "kiln/autograd/grad_mode.h"
#include "kiln/models/slowfast_nfnet/slowfast_nfnet.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/cast.h"
#include "kiln/ops/linalg.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "kiln/ops/shape.h"
#include "kiln/ops/unary.h"
#include "kiln/optim/optimizer.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

double accuracy(const Tensor& logits, const Tensor& labels) {
  const Tensor hits = eq(argmax(logits, -1), labels);
  return sum(to_dtype(hits, DType::kF64)).item<double>() / static_cast<double>(labels.size(0));
}

}  // namespace

Features extract_features(const std::function<Tensor(const Tensor&)>& embed,
                          const data::Dataset& batches, const std::string& input_key) {
  NoGradGuard no_grad;
  TensorList xs, ys;
  for (int64_t i = 0; i < batches.size(); ++i) {
    const data::Batch batch = batches.get(i);
    const Tensor e = embed(batch.at(input_key));  // (B, D)
    KILN_CHECK(e.dim() == 2 && e.size(0) == batch.at(input_key).size(0),
               "extract_features: the encoder must give (B, D) embeddings, got ",
               shape_str(e.shape()));
    xs.push_back(to_dtype(e, DType::kF32));
    ys.push_back(to_dtype(batch.at(data::kLabelKey), DType::kI64));
  }
  KILN_CHECK(!xs.empty(), "extract_features: the dataset has no batches");
  return {concat(xs, 0), concat(ys, 0)};
}

LinearProbeResult linear_probe(const Features& train, const Features& test, int64_t num_classes,
                               const LinearProbeOptions& options) {
  KILN_CHECK(train.x.dim() == 2 && test.x.dim() == 2 && train.x.size(1) == test.x.size(1) &&
                 train.y.size(0) == train.x.size(0) && test.y.size(0) == test.x.size(0),
             "linear_probe: needs train and test features (N, D) with one label each, got ",
             shape_str(train.x.shape()), " and ", shape_str(test.x.shape()));
  KILN_CHECK(num_classes > 1 && options.steps > 0 && options.lr > 0 && options.l2 >= 0,
             "linear_probe: needs num_classes > 1, steps > 0, lr > 0 and l2 >= 0");
  Tensor x_train = train.x, x_test = test.x;  // (N, D)
  if (options.standardize) {
    NoGradGuard no_grad;
    const Tensor mu = mean(x_train, {0}, true);                               // (1, D)
    const Tensor inv_std = rsqrt(add_scalar(var(x_train, {0}, true), 1e-8));  // (1, D)
    x_train = mul(sub(x_train, mu), inv_std);
    x_test = mul(sub(x_test, mu), inv_std);
  }
  const int64_t d = x_train.size(1);
  const Tensor w = zeros({d, num_classes}).set_requires_grad(true);  // (D, C)
  const Tensor b = zeros({num_classes}).set_requires_grad(true);     // (C)
  optim::Adam adam(nn::NamedTensors{{"w", w}, {"b", b}}, {});
  LinearProbeResult result;
  for (int64_t step = 0; step < options.steps; ++step) {
    const Tensor logits = add(matmul(x_train, w), b);  // (N, C)
    Tensor loss = cross_entropy(logits, train.y);
    if (options.l2 > 0) loss = add(loss, mul_scalar(sum(square(w)), 0.5 * options.l2));
    result.train_loss = loss.item<double>();
    loss.backward();
    adam.step(options.lr);
    adam.zero_grad();
  }
  NoGradGuard no_grad;
  result.train_accuracy = accuracy(add(matmul(x_train, w), b), train.y);
  result.test_accuracy = accuracy(add(matmul(x_test, w), b), test.y);
  return result;
}

absl::StatusOr<DownstreamTask> parse_downstream_task(const std::string& item,
                                                     const std::string& bench) {
  const std::vector<std::string> parts = absl::StrSplit(item, ':');
  if (parts.size() > 2 || parts.back().empty() || parts.front().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad task '", item, "': expected [DOMAIN:]TASK"));
  }
  DownstreamTask t;
  t.name = parts.back();
  if (!bench.empty()) {
    t.data = "audio_manifest";
    t.path = (std::filesystem::path(bench) / (t.name + ".csv")).string();
  } else if (t.name.ends_with(".csv")) {
    t.data = "audio_manifest";
    t.path = t.name;
  } else {
    t.data = t.name;
  }
  if (parts.size() == 2) {
    t.domain = parts[0];
  } else {
    const std::string stem = std::filesystem::path(t.name).stem().string();
    t.domain = stem.find('_') == std::string::npos ? "all" : stem.substr(0, stem.find('_'));
  }
  return t;
}

absl::StatusOr<Json> run_linear_eval(const ExperimentConfig& config,
                                     const LinearEvalOptions& options) {
  if (options.tasks.empty()) {
    return absl::InvalidArgumentError("linear evaluation: no downstream task given");
  }
  absl::StatusOr<TrainedModel> trained = load_trained_model(
      config, data_signature(config.data), options.weights, options.ema ? "ema_model" : "model");
  if (!trained.ok()) return trained.status();
  auto* encoder = dynamic_cast<models::SlowFastNFNet*>(trained->model.get());
  if (encoder == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.file, ": linear evaluation needs an encoder with an embedding ",
                     "(slowfast_nfnet), got model ", config.model.name));
  }
  const auto embed = [encoder](const Tensor& x) { return encoder->embed(x); };

  Json rows = Json::array();
  std::map<std::string, std::pair<double, int>> domains;  // sum of accuracies, tasks
  double total = 0;
  for (const DownstreamTask& task : options.tasks) {
    ExperimentConfig task_config = config;
    task_config.data.name = task.data;
    if (!task.path.empty()) task_config.data.path = task.path;
    // Every example of both splits, in order and unaugmented: the trainer's
    // batches would drop the last partial training batch.
    absl::StatusOr<TrainEvalSplits> splits = build_splits(task_config);
    if (!splits.ok()) {
      return absl::Status(splits.status().code(),
                          absl::StrCat("task ", task.name, ": ", splits.status().message()));
    }
    const int64_t classes = data_signature(task_config.data).num_classes;
    const DataConfig& d = task_config.data;
    const int64_t batch_size = d.eval_batch_size > 0 ? d.eval_batch_size : d.batch_size;
    Features train_features, test_features;
    LinearProbeResult result;
    try {
      train_features =
          extract_features(embed, *data::batch(splits->train, batch_size), options.input_key);
      test_features =
          extract_features(embed, *data::batch(splits->eval, batch_size), options.input_key);
      result = linear_probe(train_features, test_features, classes, options.probe);
    } catch (const Error& e) {
      return absl::InvalidArgumentError(absl::StrCat("task ", task.name, ": ", e.what()));
    }
    rows.push_back({{"domain", task.domain},
                    {"task", task.name},
                    {"data", task.data},
                    {"path", task.path},
                    {"train_examples", train_features.y.size(0)},
                    {"test_examples", test_features.y.size(0)},
                    {"classes", classes},
                    {"train_accuracy", result.train_accuracy},
                    {"test_accuracy", result.test_accuracy}});
    domains[task.domain].first += result.test_accuracy;
    domains[task.domain].second += 1;
    total += result.test_accuracy;
  }
  Json per_domain = Json::object();
  for (const auto& [domain, sum_count] : domains) {
    per_domain[domain] = sum_count.first / sum_count.second;
  }
  const LinearProbeOptions& probe = options.probe;
  return Json{{"weights", options.weights},
              {"step", trained->step},
              {"model", config.model.name},
              {"probe", {{"l2", probe.l2}, {"lr", probe.lr}, {"steps", probe.steps}}},
              {"tasks", rows},
              {"domains", per_domain},
              {"mean_test_accuracy", total / static_cast<double>(options.tasks.size())}};
}

}  // namespace kiln::train
