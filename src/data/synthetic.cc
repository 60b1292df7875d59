// Synthetic datasets: example i is drawn from a generator keyed by
// (seed, i), so nothing is stored and every call gives the same example.
#include "kiln/data/synthetic.h"

#include <utility>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/ops/random.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

// Streams under the options' seed.
constexpr uint64_t kExampleStream = 1;
constexpr uint64_t kDirectionsStream = 2;

Generator generator_for(uint64_t seed, uint64_t stream, int64_t index) {
  const uint64_t k = detail::derive_key(detail::derive_key(seed, detail::kSyntheticTag), stream);
  return Generator(detail::derive_key(k, static_cast<uint64_t>(index)));
}

void check_options(const SyntheticImagesOptions& o, const char* op) {
  KILN_CHECK(o.size >= 0 && o.height >= 1 && o.width >= 1 && o.channels >= 1 && o.num_classes >= 1,
             op, ": invalid options: size ", o.size, ", image ", o.height, " x ", o.width, " x ",
             o.channels, ", num_classes ", o.num_classes);
}

// The random image of example `index`, (H, W, C) uniform in [0, 1).
Tensor image_of(const SyntheticImagesOptions& o, Generator& gen) {
  return uniform({o.height, o.width, o.channels}, 0.0, 1.0, gen);
}

class SyntheticImages final : public Dataset {
 public:
  explicit SyntheticImages(SyntheticImagesOptions options) : o_(options) {}
  int64_t size() const override { return o_.size; }

 protected:
  Example get_checked(int64_t index, const EpochKey&) const override {
    Generator gen = generator_for(o_.seed, kExampleStream, index);
    Tensor image = image_of(o_, gen);
    Tensor label = randint({}, 0, o_.num_classes, gen);
    return Example{{kImageKey, std::move(image)}, {kLabelKey, std::move(label)}};
  }

 private:
  SyntheticImagesOptions o_;
};

// (num_classes, H * W * C) directions, one row per class.
std::vector<float> directions(const SyntheticImagesOptions& o) {
  Generator gen = generator_for(o.seed, kDirectionsStream, 0);
  return to_float_vector(normal({o.num_classes, o.height * o.width * o.channels}, 0.0, 1.0, gen));
}

int64_t argmax_label(const std::vector<float>& w, int64_t num_classes, const Tensor& image) {
  const std::vector<float> x = to_float_vector(image);
  const int64_t d = static_cast<int64_t>(x.size());
  int64_t best = 0;
  double best_score = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    double score = 0;
    for (int64_t j = 0; j < d; ++j) score += static_cast<double>(w[c * d + j]) * (x[j] - 0.5);
    if (c == 0 || score > best_score) {
      best = c;
      best_score = score;
    }
  }
  return best;
}

class LearnableImages final : public Dataset {
 public:
  explicit LearnableImages(SyntheticImagesOptions options)
      : o_(options), directions_(directions(options)) {}
  int64_t size() const override { return o_.size; }

 protected:
  Example get_checked(int64_t index, const EpochKey&) const override {
    Generator gen = generator_for(o_.seed, kExampleStream, index);
    Tensor image = image_of(o_, gen);
    const int64_t label = argmax_label(directions_, o_.num_classes, image);
    return Example{{kImageKey, std::move(image)},
                   {kLabelKey, scalar_tensor(static_cast<double>(label), DType::kI64)}};
  }

 private:
  SyntheticImagesOptions o_;
  std::vector<float> directions_;
};

class SyntheticTokens final : public Dataset {
 public:
  explicit SyntheticTokens(SyntheticTokensOptions options) : o_(options) {}
  int64_t size() const override { return o_.size; }

 protected:
  Example get_checked(int64_t index, const EpochKey&) const override {
    Generator gen = generator_for(o_.seed, kExampleStream, index);
    return Example{{kTokensKey, randint({o_.seq_len + 1}, 0, o_.vocab_size, gen)}};
  }

 private:
  SyntheticTokensOptions o_;
};

}  // namespace

DatasetPtr synthetic_images(const SyntheticImagesOptions& options) {
  check_options(options, "synthetic_images");
  return std::make_shared<SyntheticImages>(options);
}

DatasetPtr learnable_images(const SyntheticImagesOptions& options) {
  check_options(options, "learnable_images");
  return std::make_shared<LearnableImages>(options);
}

int64_t learnable_label(const SyntheticImagesOptions& options, const Tensor& image) {
  check_options(options, "learnable_label");
  KILN_CHECK(image.shape() == Shape({options.height, options.width, options.channels}),
             "learnable_label: image of shape ", shape_str(image.shape()), ", expected (",
             options.height, ", ", options.width, ", ", options.channels, ")");
  return argmax_label(directions(options), options.num_classes, image);
}

DatasetPtr synthetic_tokens(const SyntheticTokensOptions& options) {
  KILN_CHECK(options.size >= 0 && options.seq_len >= 1 && options.vocab_size >= 1,
             "synthetic_tokens: invalid options: size ", options.size, ", seq_len ",
             options.seq_len, ", vocab_size ", options.vocab_size);
  return std::make_shared<SyntheticTokens>(options);
}

}  // namespace kiln::data
