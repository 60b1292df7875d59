// NFNet family against an independent PyTorch implementation
// (tools/golden/nfnet.py): an NF block (transition and identity), a small
// NFNet and a small NF-ResNet with the same weights; outputs, logits, loss
// and the gradient of every parameter and of the input.
//
// Tolerances: the fixtures are exact to float64 rounding and kiln runs in
// float32 through up to ~25 layers (weight standardisation, grouped convs,
// SE), so errors are f32 rounding accumulated with depth. Measured worst
// errors are listed next to each bound; the bounds leave 10x margin or more.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kiln/models/nfnet/nf_block.h"
#include "kiln/models/nfnet/nf_resnet.h"
#include "kiln/models/nfnet/nfnet.h"
#include "kiln/ops/binary.h"
#include "kiln/ops/nn.h"
#include "kiln/ops/reduce.h"
#include "tests/parity/golden.h"

namespace kiln {
namespace {

using parity::all_close;
using parity::Tolerance;

struct Fixture {
  SafetensorsFile file;
  std::map<std::string, Tensor> params;  // "param.<name>" with the prefix removed

  static Fixture load(const std::string& name) {
    const std::string path = absl::StrCat(KILN_GOLDEN_DIR, "/", name, ".safetensors");
    absl::StatusOr<SafetensorsFile> file = load_safetensors(path);
    KILN_CHECK(file.ok(), "golden fixture: ", file.status().ToString(),
               " (regenerate with /usr/bin/python3 tools/golden/nfnet.py)");
    Fixture f{*std::move(file), {}};
    const std::string prefix = "param.";
    for (size_t i = 0; i < f.file.names.size(); ++i) {
      if (f.file.names[i].rfind(prefix, 0) == 0) {
        f.params[f.file.names[i].substr(prefix.size())] = f.file.tensors[i];
      }
    }
    return f;
  }
  const Tensor& at(const std::string& name) const {
    const Tensor* t = file.find(name);
    KILN_CHECK(t != nullptr, "golden fixture has no tensor '", name, "'");
    return *t;
  }
  Tensor leaf(const std::string& name) const {
    Tensor t = Tensor::empty(at(name).shape(), DType::kF32);
    copy_into(t, at(name));
    t.set_requires_grad(true);
    return t;
  }
  const std::string& meta(const std::string& key) const { return file.metadata.at(key); }
  double meta_double(const std::string& key) const { return std::stod(meta(key)); }
  int64_t meta_int(const std::string& key) const { return std::stoll(meta(key)); }
};

// Every parameter's gradient against "grad.<name>"; returns the number checked.
int expect_param_grads(const nn::Module& module, const Fixture& f, Tolerance tol) {
  int checked = 0;
  for (const auto& [name, param] : module.named_parameters()) {
    SCOPED_TRACE(name);
    if (!param.grad().defined()) {
      ADD_FAILURE() << name << " got no gradient";
      continue;
    }
    EXPECT_TRUE(all_close(param.grad(), f.at("grad." + name), tol));
    ++checked;
  }
  return checked;
}

models::NFBlockOptions block_options(const Fixture& f) {
  return {.in_channels = f.meta_int("in"),
          .out_channels = f.meta_int("out"),
          .expansion = f.meta_double("expansion"),
          .group_width = f.meta_int("group_width"),
          .stride = f.meta_int("stride"),
          .beta = f.meta_double("beta"),
          .alpha = f.meta_double("alpha"),
          .se_ratio = f.meta_double("se_ratio"),
          .activation = f.meta("activation"),
          .use_two_convs = f.meta_int("use_two_convs") != 0,
          .avg_pool_shortcut = f.meta_int("avg_pool_shortcut") != 0};
}

void check_block(const std::string& name) {
  const Fixture f = Fixture::load(name);
  Generator gen(0);
  models::NFBlock block(block_options(f), gen, nullptr);
  ASSERT_TRUE(block.load_state_dict(f.params).ok());
  const Tensor x = f.leaf("x");
  const Tensor out = block.forward(x);
  // Measured worst errors: out 4e-7, grad x 6e-7, parameter grads 5e-6
  // (at an expected value of 0.6).
  const Tolerance tol{1e-5, 1e-5};
  EXPECT_TRUE(all_close(out, f.at("out"), tol));
  sum(mul(out, f.at("proj"))).backward();
  EXPECT_TRUE(all_close(x.grad(), f.at("grad.x"), tol));
  EXPECT_EQ(expect_param_grads(block, f, {1e-5, 1e-4}), static_cast<int>(f.params.size()));
}

TEST(NFNetParity, TransitionBlock) { check_block("nfnet_block_transition"); }

TEST(NFNetParity, IdentityBlock) { check_block("nfnet_block_identity"); }

// Logits, loss and parameter gradients of a whole model in training mode
// (stochastic depth and dropout at rate 0, so the pass is deterministic).
void check_model(models::Model& model, const Fixture& f) {
  ASSERT_TRUE(model.load_state_dict(f.params).ok());
  model.train();
  Tensor x = Tensor::empty(f.at("x").shape(), DType::kF32);
  copy_into(x, f.at("x"));
  const Tensor logits = model.forward(x);
  const Tensor loss =
      cross_entropy(logits, f.at("labels"), {.label_smoothing = f.meta_double("label_smoothing")});
  // Measured worst errors: logits 1.3e-6 (NF-ResNet; 5e-7 NFNet), loss 1e-7,
  // parameter grads 3e-6.
  EXPECT_TRUE(all_close(logits, f.at("logits"), {1e-5, 1e-5}));
  EXPECT_TRUE(all_close(loss, f.at("loss"), {1e-6, 1e-5}));
  loss.backward();
  EXPECT_EQ(expect_param_grads(model, f, {1e-5, 1e-4}), static_cast<int>(f.params.size()));
}

TEST(NFNetParity, SmallNFNet) {
  const Fixture f = Fixture::load("nfnet_small");
  // The architecture of tools/golden/nfnet.py nfnet_fixture.
  models::NFNetOptions o;
  o.in_channels = 3;
  o.num_classes = 5;
  o.stem_channels = {4, 8, 8, 8};
  o.stem_strides = {2, 1, 1, 2};
  o.widths = {12, 24};
  o.depths = {1, 2};
  o.strides = {1, 2};
  o.group_width = 6;
  o.stochdepth_rate = 0;
  o.dropout = 0;
  Generator gen(0);
  models::NFNet model(o, gen, std::make_shared<Generator>(1));
  check_model(model, f);
}

TEST(NFNetParity, SmallNFResNet) {
  const Fixture f = Fixture::load("nf_resnet_small");
  // The architecture of tools/golden/nfnet.py nf_resnet_fixture.
  models::NFResNetOptions o;
  o.in_channels = 3;
  o.num_classes = 4;
  o.stem_channels = 8;
  o.widths = {16, 32};
  o.depths = {2, 1};
  o.strides = {1, 2};
  o.use_se = true;
  o.stochdepth_rate = 0;
  Generator gen(0);
  models::NFResNet model(o, gen, std::make_shared<Generator>(1));
  check_model(model, f);
}

}  // namespace
}  // namespace kiln
