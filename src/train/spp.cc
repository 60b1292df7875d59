#include "kiln/train/spp.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/context.h"
#include "kiln/models/nfnet/nf_resnet.h"
#include "kiln/models/nfnet/nfnet.h"
#include "kiln/ops/random.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/model_registry.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> sets_of(const Json& set) {
  std::vector<std::string> sets;
  for (auto it = set.begin(); it != set.end(); ++it) {
    sets.push_back(absl::StrCat(it.key(), "=", it.value().dump()));
  }
  return sets;
}

// The batch every variant sees: (N, H, W, C).
absl::StatusOr<Tensor> spp_batch(const SppSpec& spec) {
  std::vector<std::string> sets = spec.sets;
  if (spec.input.source == "data") {
    sets.push_back(absl::StrCat("data.eval_batch_size=", spec.input.batch_size));
  }
  absl::StatusOr<ExperimentConfig> config = load_experiment(spec.base, sets);
  if (!config.ok()) return config.status();
  if (spec.input.source == "gaussian") {
    std::vector<int64_t> shape = spec.input.image_shape;
    if (shape.empty()) shape = data_signature(config->data).input_shape;
    if (shape.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec.file, ": input.image_shape: a gaussian batch needs [H, W, C]"));
    }
    Generator gen(spec.input.seed);
    return normal({spec.input.batch_size, shape[0], shape[1], shape[2]}, 0.0, 1.0, gen);
  }
  absl::StatusOr<RunData> data = build_data(*config);
  if (!data.ok()) return data.status();
  if (data->eval_batches->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(spec.base, ": the held-out split is empty"));
  }
  const data::Batch batch = data->eval_batches->get(0);
  if (!batch.contains(data::kImageKey)) {
    return absl::InvalidArgumentError(absl::StrCat(spec.base, ": the data has no images"));
  }
  return batch.at(data::kImageKey);
}

}  // namespace

bool is_spp_file(const std::string& path) {
  absl::StatusOr<Json> json = load_json_config(path);
  return json.ok() && json->is_object() && json->contains("variants");
}

absl::StatusOr<SppSpec> load_spp(const std::string& path,
                                 const std::vector<std::string>& overrides) {
  absl::StatusOr<Json> json = load_json_config(path);
  if (!json.ok()) return json.status();
  for (const std::string& o : overrides) {
    if (absl::Status s = apply_override(*json, o); !s.ok()) return s;
  }
  SppSpec spec;
  spec.file = path;
  try {
    ObjectReader r(*json, "", path);
    std::string base;
    r.require("base", &base);
    spec.base = (fs::path(path).parent_path() / base).string();
    if (r.has("set")) {
      const Json& set = r.raw("set");
      if (!set.is_object()) r.fail("set", "must be an object of \"key.path\": value");
      spec.sets = sets_of(set);
    }
    const Json& variants = r.raw("variants");
    if (!variants.is_array() || variants.empty()) r.fail("variants", "must be a non-empty list");
    for (size_t i = 0; i < variants.size(); ++i) {
      ObjectReader v(variants[i], absl::StrCat("variants.", i), path);
      SppVariant variant;
      v.require("name", &variant.name);
      if (v.has("set")) {
        const Json& set = v.raw("set");
        if (!set.is_object()) v.fail("set", "must be an object of \"key.path\": value");
        variant.sets = sets_of(set);
      }
      v.finish();
      for (const SppVariant& other : spec.variants) {
        if (other.name == variant.name) v.fail("name", "two variants have this name");
      }
      spec.variants.push_back(variant);
    }
    ObjectReader in = r.object("input");
    in.read("source", &spec.input.source);
    in.check_one_of("source", spec.input.source, {"gaussian", "data"});
    in.read("batch_size", &spec.input.batch_size);
    in.check_range("batch_size", static_cast<double>(spec.input.batch_size), 1, 1e6);
    in.read("image_shape", &spec.input.image_shape);
    if (!spec.input.image_shape.empty() && spec.input.image_shape.size() != 3) {
      in.fail("image_shape", "must be [height, width, channels]");
    }
    for (int64_t s : spec.input.image_shape) {
      if (s <= 0) in.fail("image_shape", "entries must be positive");
    }
    int64_t seed = 0;
    in.read("seed", &seed);
    in.check_range("seed", static_cast<double>(seed), 0, 1e18);
    spec.input.seed = static_cast<uint64_t>(seed);
    in.finish();
    r.require("output_dir", &spec.output_dir);
    r.finish();
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  }
  return spec;
}

std::vector<SppRow> measure_signal_propagation(models::Model& model, const Tensor& images) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<models::BlockSignal> signals;
  const std::vector<std::shared_ptr<models::NFBlock>>* blocks = nullptr;
  if (auto* nfnet = dynamic_cast<models::NFNet*>(&model)) {
    nfnet->forward(images, &signals);
    blocks = &nfnet->blocks();
  } else if (auto* resnet = dynamic_cast<models::NFResNet*>(&model)) {
    resnet->forward(images, &signals);
    blocks = &resnet->blocks();
  } else {
    model.train(was_training);
    throw Error("signal propagation plots need a model of the NFNet family (nfnet, nf_resnet)");
  }
  model.train(was_training);
  KILN_CHECK(signals.size() == blocks->size(), "spp: ", signals.size(), " signals for ",
             blocks->size(), " blocks");
  std::vector<SppRow> rows;
  int64_t stage = -1, index = 0;
  double expected = 1.0;
  for (size_t i = 0; i < blocks->size(); ++i) {
    const models::NFBlock& block = *(*blocks)[i];
    const models::NFBlockOptions& o = block.options();
    SppRow row;
    row.block = static_cast<int64_t>(i);
    row.transition = models::nf_block_has_projection(o);
    // A stage starts at each transition block (the plan resets expected_std there).
    if (row.transition || stage < 0) {
      ++stage;
      index = 0;
    }
    row.stage = stage;
    row.index_in_stage = index++;
    const double g = block.skip_gain().item_as_double();
    const double branch = o.alpha * o.alpha * g * g;
    // A transition resets the variance to that of its shortcut conv (1);
    // otherwise the shortcut carries the input's: the previous prediction,
    // or 1 / beta^2 (the plan's) for a first block without projection.
    const double input_var = i == 0 ? 1.0 / (o.beta * o.beta) : expected;
    expected = (row.transition ? 1.0 : input_var) + branch;
    row.expected_var = expected;
    row.signal = signals[i];
    rows.push_back(row);
  }
  return rows;
}

absl::StatusOr<std::vector<SppRow>> run_spp(const SppSpec& spec, std::FILE* console) {
  absl::StatusOr<Tensor> images = spp_batch(spec);
  if (!images.ok()) return images.status();
  std::vector<SppRow> all;
  for (const SppVariant& variant : spec.variants) {
    std::vector<std::string> sets = spec.sets;
    sets.insert(sets.end(), variant.sets.begin(), variant.sets.end());
    absl::StatusOr<ExperimentConfig> config = load_experiment(spec.base, sets);
    if (!config.ok()) {
      return absl::Status(config.status().code(),
                          absl::StrCat("variant ", variant.name, ": ", config.status().message()));
    }
    // The trainer's context (threads) and initialisation stream, so the SPP
    // shows the model `kiln train` starts from.
    Context context({.num_threads = config->train.threads, .seed = config->train.seed});
    ContextScope scope(context);
    const DataSignature signature = data_signature(config->data);
    Generator init_gen(config->train.seed * 2 + 1);
    std::vector<int64_t> input_shape(images->shape().begin() + 1, images->shape().end());
    absl::StatusOr<std::shared_ptr<models::Model>> model =
        build_model(config->model.name, config->model.options,
                    {.input_shape = input_shape,
                     .num_classes = signature.num_classes,
                     .init_gen = &init_gen,
                     .dropout_gen = std::make_shared<Generator>(config->train.seed * 2 + 2)},
                    config->file);
    if (!model.ok()) {
      return absl::Status(model.status().code(),
                          absl::StrCat("variant ", variant.name, ": ", model.status().message()));
    }
    std::vector<SppRow> rows;
    try {
      rows = measure_signal_propagation(**model, *images);
    } catch (const Error& e) {
      return absl::InvalidArgumentError(absl::StrCat("variant ", variant.name, ": ", e.what()));
    }
    for (SppRow& row : rows) row.variant = variant.name;
    if (console != nullptr && !rows.empty()) {
      double max_sq_mean = 0, max_var = 0;
      for (const SppRow& row : rows) {
        max_sq_mean = std::max(max_sq_mean, row.signal.avg_sq_mean);
        max_var = std::max(max_var, row.signal.avg_var);
      }
      std::fprintf(console,
                   "%-16s %3zu blocks  final: sq_mean %.4g  var %.4g (predicted %.4g)  "
                   "residual var %.4g  max: sq_mean %.4g  var %.4g\n",
                   variant.name.c_str(), rows.size(), rows.back().signal.avg_sq_mean,
                   rows.back().signal.avg_var, rows.back().expected_var,
                   rows.back().signal.residual_avg_var, max_sq_mean, max_var);
    }
    all.insert(all.end(), rows.begin(), rows.end());
  }

  std::error_code ec;
  fs::create_directories(spec.output_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", spec.output_dir, ": ", ec.message()));
  }
  std::ostringstream csv;
  csv << "variant,block,stage,index_in_stage,transition,avg_sq_mean,avg_var,residual_avg_var,"
         "expected_var\n";
  for (const SppRow& r : all) {
    csv << absl::StrFormat("%s,%d,%d,%d,%d,%.6g,%.6g,%.6g,%.6g\n", r.variant, r.block, r.stage,
                           r.index_in_stage, r.transition ? 1 : 0, r.signal.avg_sq_mean,
                           r.signal.avg_var, r.signal.residual_avg_var, r.expected_var);
  }
  std::ofstream(fs::path(spec.output_dir) / "spp.csv") << csv.str();
  std::ofstream(fs::path(spec.output_dir) / "spp.svg")
      << spp_svg(fs::path(spec.file).stem().string(), all);
  if (console != nullptr) {
    std::fprintf(console, "wrote %s/spp.csv and spp.svg\n", spec.output_dir.c_str());
  }
  return all;
}

std::string spp_svg(const std::string& title, const std::vector<SppRow>& rows) {
  // Three panels side by side, log y (the no-WS squared mean spans decades).
  constexpr double kPanelW = 300, kPanelH = 260, kLeft = 60, kGap = 70, kTop = 50, kBottom = 60;
  constexpr double kLegend = 150;
  const double width = kLeft + 3 * kPanelW + 2 * kGap + kLegend;
  const double height = kTop + kPanelH + kBottom;
  std::vector<std::string> variants;
  for (const SppRow& r : rows) {
    if (std::find(variants.begin(), variants.end(), r.variant) == variants.end()) {
      variants.push_back(r.variant);
    }
  }
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                  "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  struct Panel {
    const char* name;
    double (*value)(const SppRow&);
  };
  const Panel panels[] = {
      {"avg channel squared mean", [](const SppRow& r) { return r.signal.avg_sq_mean; }},
      {"avg channel variance", [](const SppRow& r) { return r.signal.avg_var; }},
      {"residual avg channel variance", [](const SppRow& r) { return r.signal.residual_avg_var; }},
  };
  std::ostringstream svg;
  svg << absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%g\" y=\"22\" font-size=\"15\">%s: signal propagation at "
      "initialisation</text>\n",
      width, height, kLeft, title);
  double max_block = 1;
  for (const SppRow& r : rows) max_block = std::max(max_block, static_cast<double>(r.block));
  for (int p = 0; p < 3; ++p) {
    const double left = kLeft + p * (kPanelW + kGap);
    double lo = INFINITY, hi = -INFINITY;
    for (const SppRow& r : rows) {
      const double v = panels[p].value(r);
      if (v > 0 && std::isfinite(v)) {
        lo = std::min(lo, std::log10(v));
        hi = std::max(hi, std::log10(v));
      }
    }
    if (p == 1) {  // the prediction shares the variance panel
      for (const SppRow& r : rows) {
        if (r.expected_var > 0) {
          lo = std::min(lo, std::log10(r.expected_var));
          hi = std::max(hi, std::log10(r.expected_var));
        }
      }
    }
    if (!std::isfinite(lo)) lo = -1, hi = 1;
    lo = std::floor(lo * 4) / 4;
    hi = std::ceil(hi * 4) / 4;
    if (hi <= lo) hi = lo + 0.25;
    auto px = [&](double b) { return left + b / max_block * kPanelW; };
    auto py = [&](double v) {
      const double l = std::log10(std::max(v, 1e-300));
      return kTop + kPanelH - (std::clamp(l, lo, hi) - lo) / (hi - lo) * kPanelH;
    };
    svg << absl::StrFormat(
        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n",
        left, kTop, kPanelW, kPanelH);
    svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s (log)</text>\n",
                           left + kPanelW / 2, kTop - 8, panels[p].name);
    svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">residual block</text>\n",
                           left + kPanelW / 2, kTop + kPanelH + 34);
    for (int i = 0; i <= 4; ++i) {
      const double l = lo + (hi - lo) * i / 4;
      svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n", left - 5,
                             kTop + kPanelH - kPanelH * i / 4 + 4, std::pow(10, l));
      svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.0f</text>\n",
                             left + kPanelW * i / 4, kTop + kPanelH + 16, max_block * i / 4);
    }
    for (size_t v = 0; v < variants.size(); ++v) {
      std::string path, expected;
      for (const SppRow& r : rows) {
        if (r.variant != variants[v]) continue;
        const double x = px(static_cast<double>(r.block));
        absl::StrAppend(&path, absl::StrFormat("%.1f,%.1f ", x, py(panels[p].value(r))));
        absl::StrAppend(&expected, absl::StrFormat("%.1f,%.1f ", x, py(r.expected_var)));
      }
      svg << absl::StrFormat("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\"/>\n", path,
                             kColors[v % 8]);
      if (p == 1 && v == 0) {
        svg << absl::StrFormat(
            "<polyline points=\"%s\" fill=\"none\" stroke=\"gray\" stroke-dasharray=\"4,3\"/>\n",
            expected);
      }
    }
  }
  const double legend_x = kLeft + 3 * kPanelW + 2 * kGap + 12;
  for (size_t v = 0; v < variants.size(); ++v) {
    svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" fill=\"%s\">%s</text>\n", legend_x,
                           kTop + 14 + 16.0 * static_cast<double>(v), kColors[v % 8], variants[v]);
  }
  svg << absl::StrFormat("<text x=\"%g\" y=\"%g\" fill=\"gray\">predicted var (%s)</text>\n",
                         legend_x, kTop + 14 + 16.0 * static_cast<double>(variants.size()),
                         variants.empty() ? std::string("-") : variants[0]);
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace kiln::train
