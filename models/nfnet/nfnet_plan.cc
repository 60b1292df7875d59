#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"

#include "kiln/models/nfnet/nf_resnet.h"
#include "kiln/models/nfnet/nfnet.h"

namespace kiln::models {
namespace {

int64_t scaled(int64_t value, double multiplier) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(value) * multiplier));
}

void check_stages(const char* model, const std::vector<int64_t>& widths,
                  const std::vector<int64_t>& depths, const std::vector<int64_t>& strides,
                  double width_multiplier, double depth_multiplier) {
  KILN_CHECK(!widths.empty() && widths.size() == depths.size() && widths.size() == strides.size(),
             model, ": widths, depths and strides must have one entry per stage, got ",
             widths.size(), ", ", depths.size(), " and ", strides.size());
  for (size_t i = 0; i < widths.size(); ++i) {
    KILN_CHECK(widths[i] > 0 && depths[i] > 0 && strides[i] > 0, model, ": stage ", i,
               " has width ", widths[i], ", depth ", depths[i], ", stride ", strides[i],
               "; all must be positive");
  }
  KILN_CHECK(width_multiplier > 0 && depth_multiplier > 0, model,
             ": width_multiplier and depth_multiplier must be positive, got ", width_multiplier,
             " and ", depth_multiplier);
}

// The official body loop (nfnet.py / nf_resnet.py): beta from the expected
// std, stochastic depth rate * index / num_blocks, expected std reset after
// each stage's first block.
std::vector<std::vector<NFBlockOptions>> body(const NFBlockOptions& base, int64_t in_channels,
                                              const std::vector<int64_t>& widths,
                                              const std::vector<int64_t>& depths,
                                              const std::vector<int64_t>& strides,
                                              double stochdepth_rate) {
  int64_t num_blocks = 0;
  for (int64_t d : depths) num_blocks += d;
  std::vector<std::vector<NFBlockOptions>> stages(widths.size());
  double expected_std = 1.0;
  int64_t index = 0;
  int64_t ch = in_channels;
  for (size_t s = 0; s < widths.size(); ++s) {
    for (int64_t b = 0; b < depths[s]; ++b) {
      NFBlockOptions o = base;
      o.in_channels = ch;
      o.out_channels = widths[s];
      o.stride = b == 0 ? strides[s] : 1;
      o.beta = 1.0 / expected_std;
      o.stochdepth_rate =
          stochdepth_rate * static_cast<double>(index) / static_cast<double>(num_blocks);
      stages[s].push_back(o);
      ch = widths[s];
      ++index;
      if (b == 0) expected_std = 1.0;  // reset, but still give it one block of growth
      expected_std = std::sqrt(expected_std * expected_std + base.alpha * base.alpha);
    }
  }
  return stages;
}

int64_t ws_conv_params(int64_t in, int64_t out, int64_t kernel) {
  return kernel * kernel * in * out + 2 * out;
}

}  // namespace

NFNetOptions nfnet_variant(const std::string& name) {
  // base.nfnet_params: depths [N, 2N, 6N, 3N] for F(N-1), dropout per variant.
  static const std::map<std::string, std::pair<int64_t, double>> kVariants = {
      {"F0", {1, 0.2}}, {"F1", {2, 0.3}}, {"F2", {3, 0.4}}, {"F3", {4, 0.4}},
      {"F4", {5, 0.5}}, {"F5", {6, 0.5}}, {"F6", {7, 0.5}}, {"F7", {8, 0.5}},
  };
  const bool plus = !name.empty() && name.back() == '+';
  auto it = kVariants.find(plus ? name.substr(0, name.size() - 1) : name);
  KILN_CHECK(it != kVariants.end(), "nfnet_variant: unknown variant '", name,
             "' (F0 to F7, or F0+ to F7+)");
  NFNetOptions o;
  const int64_t n = it->second.first;
  o.depths = {n, 2 * n, 6 * n, 3 * n};
  o.dropout = it->second.second;
  if (plus) o.widths = {384, 768, 2048, 2048};
  o.stem_channels = {16, 32, 64, o.widths[0] / 2};
  return o;
}

std::vector<std::string> nfnet_variant_names() {
  std::vector<std::string> names;
  for (const char* suffix : {"", "+"}) {
    for (int i = 0; i <= 7; ++i) names.push_back(absl::StrCat("F", i, suffix));
  }
  return names;
}

NFNetPlan nfnet_plan(const NFNetOptions& o) {
  check_stages("NFNet", o.widths, o.depths, o.strides, o.width_multiplier, o.depth_multiplier);
  KILN_CHECK(!o.stem_channels.empty() && o.stem_channels.size() == o.stem_strides.size(),
             "NFNet: stem_channels and stem_strides must be non-empty and of equal length, got ",
             o.stem_channels.size(), " and ", o.stem_strides.size());
  KILN_CHECK(o.in_channels > 0 && o.num_classes > 0, "NFNet: in_channels (", o.in_channels,
             ") and num_classes (", o.num_classes, ") must be positive");
  KILN_CHECK(o.expansion > 0 && o.group_width >= 0 && o.se_ratio >= 0 && o.alpha >= 0 &&
                 o.final_conv_mult > 0,
             "NFNet: expansion, final_conv_mult must be positive and group_width, se_ratio, "
             "alpha non-negative");
  KILN_CHECK(o.stochdepth_rate >= 0 && o.stochdepth_rate < 1 && o.dropout >= 0 && o.dropout < 1,
             "NFNet: stochdepth_rate (", o.stochdepth_rate, ") and dropout (", o.dropout,
             ") must be in [0, 1)");
  NFNetPlan plan;
  for (size_t i = 0; i < o.stem_channels.size(); ++i) {
    KILN_CHECK(o.stem_channels[i] > 0 && o.stem_strides[i] > 0, "NFNet: stem conv ", i,
               " needs positive channels and stride");
    plan.stem_channels.push_back(scaled(o.stem_channels[i], o.width_multiplier));
  }
  plan.stem_strides = o.stem_strides;
  std::vector<int64_t> widths, depths;
  for (int64_t w : o.widths) widths.push_back(scaled(w, o.width_multiplier));
  for (int64_t d : o.depths) depths.push_back(scaled(d, o.depth_multiplier));
  NFBlockOptions base{
      .expansion = o.expansion,
      .group_width = o.group_width > 0 ? scaled(o.group_width, o.width_multiplier) : 0,
      .alpha = o.alpha,
      .se_ratio = o.se_ratio,
      .activation = o.activation,
      .use_two_convs = o.use_two_convs,
      .avg_pool_shortcut = true,
      .weight_standardization = o.weight_standardization};
  plan.stages = body(base, plan.stem_channels.back(), widths, depths, o.strides, o.stochdepth_rate);
  plan.final_channels =
      static_cast<int64_t>(o.final_conv_mult * static_cast<double>(widths.back()));
  KILN_CHECK(plan.final_channels > 0, "NFNet: final_conv_mult ", o.final_conv_mult,
             " gives no channels");
  for (const auto& stage : plan.stages) {
    for (const NFBlockOptions& b : stage) nf_block_width(b);  // throws for a zero width
  }
  return plan;
}

int64_t nfnet_num_parameters(const NFNetOptions& o) {
  const NFNetPlan plan = nfnet_plan(o);
  int64_t n = 0;
  int64_t ch = o.in_channels;
  for (int64_t c : plan.stem_channels) {
    n += ws_conv_params(ch, c, 3);
    ch = c;
  }
  for (const auto& stage : plan.stages) {
    for (const NFBlockOptions& b : stage) n += nf_block_num_parameters(b);
  }
  n += ws_conv_params(plan.stages.back().back().out_channels, plan.final_channels, 1);
  return n + (plan.final_channels + 1) * o.num_classes;
}

NFResNetOptions nf_resnet_variant(const std::string& name) {
  static const std::map<std::string, std::vector<int64_t>> kDepths = {
      {"ResNet50", {3, 4, 6, 3}},      {"ResNet101", {3, 4, 23, 3}},
      {"ResNet152", {3, 8, 36, 3}},    {"ResNet200", {3, 24, 36, 3}},
      {"ResNet288", {24, 24, 24, 24}}, {"ResNet600", {50, 50, 50, 50}},
  };
  auto it = kDepths.find(name);
  KILN_CHECK(it != kDepths.end(), "nf_resnet_variant: unknown variant '", name,
             "' (ResNet50, ResNet101, ResNet152, ResNet200, ResNet288, ResNet600)");
  NFResNetOptions o;
  o.depths = it->second;
  return o;
}

std::vector<std::string> nf_resnet_variant_names() {
  return {"ResNet50", "ResNet101", "ResNet152", "ResNet200", "ResNet288", "ResNet600"};
}

NFResNetPlan nf_resnet_plan(const NFResNetOptions& o) {
  check_stages("NFResNet", o.widths, o.depths, o.strides, o.width_multiplier, o.depth_multiplier);
  KILN_CHECK(o.in_channels > 0 && o.num_classes > 0 && o.stem_channels > 0 && o.stem_kernel > 0 &&
                 o.stem_stride > 0,
             "NFResNet: in_channels, num_classes and the stem's channels, kernel and stride must "
             "be positive");
  KILN_CHECK(o.bottleneck_ratio > 0 && o.alpha >= 0 && (!o.use_se || o.se_ratio > 0),
             "NFResNet: bottleneck_ratio (and se_ratio with use_se) must be positive, alpha "
             "non-negative");
  KILN_CHECK(o.stochdepth_rate >= 0 && o.stochdepth_rate < 1 && o.dropout >= 0 && o.dropout < 1,
             "NFResNet: stochdepth_rate (", o.stochdepth_rate, ") and dropout (", o.dropout,
             ") must be in [0, 1)");
  NFResNetPlan plan;
  plan.stem_channels = scaled(o.stem_channels, o.width_multiplier);
  std::vector<int64_t> widths, depths;
  for (int64_t w : o.widths) widths.push_back(scaled(w, o.width_multiplier));
  for (int64_t d : o.depths) depths.push_back(scaled(d, o.depth_multiplier));
  NFBlockOptions base{.expansion = o.bottleneck_ratio,
                      .group_width = 0,
                      .alpha = o.alpha,
                      .se_ratio = o.use_se ? o.se_ratio : 0.0,
                      .activation = o.activation,
                      .use_two_convs = false,
                      .avg_pool_shortcut = false,
                      .skip_gain_init = o.skip_gain_init,
                      .weight_standardization = o.weight_standardization};
  plan.stages = body(base, plan.stem_channels, widths, depths, o.strides, o.stochdepth_rate);
  for (const auto& stage : plan.stages) {
    for (const NFBlockOptions& b : stage) nf_block_width(b);
  }
  return plan;
}

int64_t nf_resnet_num_parameters(const NFResNetOptions& o) {
  const NFResNetPlan plan = nf_resnet_plan(o);
  int64_t n = ws_conv_params(o.in_channels, plan.stem_channels, o.stem_kernel);
  for (const auto& stage : plan.stages) {
    for (const NFBlockOptions& b : stage) n += nf_block_num_parameters(b);
  }
  return n + (plan.stages.back().back().out_channels + 1) * o.num_classes;
}

}  // namespace kiln::models
