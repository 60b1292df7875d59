// Flamingo's training data and task: interleaved caption sequences
// (data/interleaved.h) and the multimodal language-modelling task, on
// synthetic labelled images (no files needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "kiln/data/interleaved.h"
#include "kiln/models/flamingo/flamingo.h"
#include "kiln/ops/random.h"
#include "kiln/ops/shape.h"
#include "kiln/train/experiment_config.h"
#include "kiln/train/few_shot.h"
#include "src/train/builders.h"
#include "src/train/tasks/tasks.h"

namespace kiln {
namespace {

constexpr int64_t kImage = 1, kEoc = 2, kPad = 0;

// 20 images of 8 x 8 x 1; image i has label i % 4 and every pixel i / 20.
data::LabeledImages labeled_images() {
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  for (int i = 0; i < 20; ++i) {
    pixels.insert(pixels.end(), 64, static_cast<float>(i) / 20.0f);
    labels.push_back(i % 4);
  }
  return {.images = from_vector(pixels, {20, 8, 8, 1}),
          .labels = from_vector(labels, {20}),
          .num_classes = 4};
}

const std::vector<std::string> kNames = {"cat", "dog", "ankle boot", "bag"};

data::InterleavedOptions options() {
  return {.sequence_length = 96, .min_images = 1, .max_images = 3, .mean = {0.5}, .std = {0.25}};
}

TEST(InterleavedCaptions, ImagesCaptionsTokensAndMaskAgree) {
  const data::LabeledImages source = labeled_images();
  const data::DatasetPtr dataset = data::interleaved_captions(source, kNames, options(), 50);
  ASSERT_EQ(dataset->size(), 50);
  int64_t seen_counts[4] = {0, 0, 0, 0};
  for (int64_t index = 0; index < 50; ++index) {
    const data::Example e = dataset->get(index);
    const std::vector<double> tokens = to_vector(e.at(data::kTokensKey));
    const std::vector<double> images = to_vector(e.at(data::kImagesKey));
    const std::vector<double> mask = to_vector(e.at(data::kLossMaskKey));
    ASSERT_EQ(tokens.size(), 97u);
    ASSERT_EQ(images.size(), 3u * 64);
    ASSERT_EQ(mask.size(), 96u);
    ASSERT_EQ(tokens[0], kImage) << "a sequence starts with its first image";
    // Walk the (image, caption) pairs.
    size_t t = 0;
    int64_t image = 0;
    while (t < tokens.size() && tokens[t] == kImage) {
      std::string text;
      for (++t; t < tokens.size() && tokens[t] != kEoc; ++t) text += static_cast<char>(tokens[t]);
      ASSERT_LT(t, tokens.size()) << "caption without <EOC>";
      ++t;
      // The image is a normalised source image whose class the caption names.
      const double normalised = images[image * 64];
      const int source_index = static_cast<int>(std::lround((normalised * 0.25 + 0.5) * 20));
      EXPECT_NE(text.find(kNames[source_index % 4]), std::string::npos)
          << "'" << text << "' for label " << source_index % 4;
      ++image;
    }
    for (; t < tokens.size(); ++t) EXPECT_EQ(tokens[t], kPad);
    ASSERT_GE(image, 1);
    ASSERT_LE(image, 3);
    ++seen_counts[image];
    for (int64_t j = image; j < 3; ++j) EXPECT_EQ(images[j * 64], 0.0) << "unused image slot";
    for (size_t i = 0; i < mask.size(); ++i) {
      const bool counted = tokens[i + 1] != kPad && tokens[i + 1] != kImage;
      EXPECT_EQ(mask[i], counted ? 1.0 : 0.0) << "target " << i + 1;
    }
  }
  for (int count = 1; count <= 3; ++count) EXPECT_GT(seen_counts[count], 0) << count << " images";
}

TEST(InterleavedCaptions, DeterministicPerIndexAndEpoch) {
  const data::DatasetPtr dataset =
      data::interleaved_captions(labeled_images(), kNames, options(), 10);
  const auto tokens = [&](int64_t index, int64_t epoch) {
    return to_vector(dataset->get(index, {.seed = 3, .epoch = epoch}).at(data::kTokensKey));
  };
  EXPECT_EQ(tokens(4, 0), tokens(4, 0));
  int differ = 0;
  for (int64_t i = 0; i < 10; ++i) differ += tokens(i, 0) != tokens(i, 1);
  EXPECT_GT(differ, 5);
}

TEST(InterleavedCaptions, TooShortASequenceIsAnError) {
  data::InterleavedOptions o = options();
  o.sequence_length = 60;
  EXPECT_THROW(data::interleaved_captions(labeled_images(), kNames, o, 10), Error);
}

models::FlamingoOptions tiny_flamingo() {
  models::FlamingoOptions o;
  o.vision.in_channels = 1;
  o.vision.num_classes = 4;
  o.vision.stem_channels = {4, 8};
  o.vision.stem_strides = {1, 2};
  o.vision.widths = {8, 16};
  o.vision.depths = {1, 1};
  o.vision.strides = {1, 2};
  o.vision.group_width = 4;
  o.resampler = {.dim = 16,
                 .num_latents = 2,
                 .depth = 1,
                 .heads = 2,
                 .head_dim = 8,
                 .ff_mult = 2,
                 .max_frames = 1};
  o.lm.vocab_size = 256;
  o.lm.max_len = 96;
  o.lm.d_model = 16;
  o.lm.num_layers = 2;
  o.lm.num_heads = 2;
  o.lm.mlp_hidden = 32;
  o.cross_attention = {.heads = 2, .head_dim = 8, .ff_mult = 2};
  o.image_token_id = kImage;
  o.eoc_token_id = kEoc;
  return o;
}

TEST(MultimodalLanguageModelTask, TrainsTheNewLayersAndLeavesTheFrozenOnesAlone) {
  Generator gen(0);
  auto model =
      std::make_shared<models::Flamingo>(tiny_flamingo(), gen, std::make_shared<Generator>(1));
  const train::OptimizerConfig oc{.name = "adamw", .lr = 1e-2, .weight_decay = 0.1};
  std::unique_ptr<optim::Optimizer> optimizer =
      train::build_optimizer(oc, model->named_parameters());
  // Only the trainable parameters reach the optimizer.
  for (const optim::ParamRef& p : optimizer->groups().params()) {
    EXPECT_FALSE(p.name.starts_with("vision.") || p.name.starts_with("lm.")) << p.name;
  }
  std::map<std::string, std::vector<double>> before;
  for (auto& [name, p] : model->named_parameters()) before[name] = to_vector(p);

  train::MultimodalLanguageModelTask task(model, std::move(optimizer), 3);
  const data::DatasetPtr batches =
      data::batch(data::interleaved_captions(labeled_images(), kNames, options(), 8), 8);
  const data::Batch batch = batches->get(0);
  double first = 0, last = 0;
  for (int64_t step = 1; step <= 40; ++step) {
    const train::TrainStepResult r = task.train_step(batch, {.step = step, .lr = 1e-2});
    if (step == 1) first = r.loss;
    last = r.loss;
  }
  // The gates open from 0, so the start is slow by design.
  EXPECT_LT(last, first * 0.8) << "the new layers fit one batch";
  for (auto& [name, p] : model->named_parameters()) {
    const bool frozen = name.starts_with("vision.") || name.starts_with("lm.");
    if (frozen) {
      EXPECT_EQ(to_vector(p), before[name]) << name;
    } else if (name.ends_with("_gate")) {
      EXPECT_NE(to_vector(p), before[name]) << name << " should have opened";
    }
  }
}

TEST(MultimodalLanguageModelTask, NeedsAFlamingo) {
  Generator gen(0);
  models::TransformerOptions lm = tiny_flamingo().lm;
  auto model = std::make_shared<models::Transformer>(lm, gen, nullptr);
  EXPECT_THROW(train::MultimodalLanguageModelTask(
                   model, train::build_optimizer({.name = "adamw"}, model->named_parameters()), 3),
               Error);
}

TEST(FewShotClassification, CountsEveryQueryPerShotAndIsDeterministic) {
  Generator gen(0);
  models::Flamingo model(tiny_flamingo(), gen, std::make_shared<Generator>(1));
  const data::LabeledImages images = labeled_images();
  train::FewShotOptions o{.shots = {0, 2}, .queries = 6, .seed = 4, .format = options()};
  const std::vector<train::FewShotResult> a =
      train::few_shot_classification(model, images, images, kNames, o);
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].shots, o.shots[i]);
    EXPECT_EQ(a[i].queries, 6);
    EXPECT_GE(a[i].correct, 0);
    EXPECT_LE(a[i].correct, 6);
  }
  const std::vector<train::FewShotResult> b =
      train::few_shot_classification(model, images, images, kNames, o);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].correct, b[i].correct);
  o.shots = {-1};
  EXPECT_THROW(train::few_shot_classification(model, images, images, kNames, o), Error);
}

}  // namespace
}  // namespace kiln
