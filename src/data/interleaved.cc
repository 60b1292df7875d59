#include "kiln/data/interleaved.h"

#include <algorithm>

#include "absl/strings/str_replace.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

inline constexpr uint64_t kInterleavedTag = 0x494e5445524cull;  // "INTERL"

using detail::draw_below;

class InterleavedCaptions final : public Dataset {
 public:
  InterleavedCaptions(const LabeledImages& images, std::vector<std::string> class_names,
                      const InterleavedOptions& options, int64_t size)
      : images_(images), names_(std::move(class_names)), options_(options), size_(size) {
    const InterleavedOptions& o = options_;
    KILN_CHECK(
        images_.images.dim() == 4 && images_.images.size(0) > 0 && images_.images.is_contiguous(),
        "interleaved_captions: images must be a non-empty contiguous (N, H, W, C), got ",
        shape_str(images_.images.shape()));
    KILN_CHECK(static_cast<int64_t>(names_.size()) >= images_.num_classes,
               "interleaved_captions: ", names_.size(), " class names for ", images_.num_classes,
               " classes");
    KILN_CHECK(o.min_images >= 1 && o.min_images <= o.max_images,
               "interleaved_captions: need 1 <= min_images (", o.min_images, ") <= max_images (",
               o.max_images, ")");
    KILN_CHECK(!o.templates.empty(), "interleaved_captions: no caption templates");
    const size_t channels = static_cast<size_t>(images_.images.size(3));
    KILN_CHECK(o.mean.size() == o.std.size() && (o.mean.size() == 1 || o.mean.size() == channels),
               "interleaved_captions: mean and std need 1 or ", channels, " values each");
    for (double sd : o.std) KILN_CHECK(sd > 0, "interleaved_captions: std must be positive");
    size_t longest = 0;
    for (const std::string& t : o.templates) {
      for (const std::string& n : names_) longest = std::max(longest, caption(t, n).size());
    }
    const int64_t needed = o.max_images * (static_cast<int64_t>(longest) + 2);
    KILN_CHECK(needed <= o.sequence_length + 1, "interleaved_captions: sequence_length ",
               o.sequence_length, " cannot hold ", o.max_images, " captions of up to ", longest,
               " bytes (needs ", needed - 1, ")");
  }

  int64_t size() const override { return size_; }

 protected:
  Example get_checked(int64_t index, const EpochKey& key) const override {
    const InterleavedOptions& o = options_;
    Generator gen = example_generator(key, kInterleavedTag, index);
    const int64_t count = o.min_images + draw_below(gen, o.max_images - o.min_images + 1);
    const int64_t h = images_.images.size(1), w = images_.images.size(2),
                  c = images_.images.size(3);
    Tensor images = zeros({o.max_images, h, w, c});
    std::vector<int64_t> ids;
    for (int64_t j = 0; j < count; ++j) {
      const int64_t pick = draw_below(gen, images_.images.size(0));
      write_normalized_image(images_, pick, o, images.data<float>() + j * h * w * c);
      const int64_t label = images_.labels.data<int64_t>()[pick];
      const std::string& templ = o.templates[draw_below(gen, o.templates.size())];
      ids.push_back(o.image_token);
      for (unsigned char ch : caption(templ, names_[label])) ids.push_back(ch);
      ids.push_back(o.eoc_token);
    }
    const int64_t l = o.sequence_length;
    Tensor tokens = full({l + 1}, static_cast<double>(o.pad_token), DType::kI64);
    Tensor mask = zeros({l});
    int64_t* t = tokens.data<int64_t>();
    float* m = mask.data<float>();
    for (size_t i = 0; i < ids.size(); ++i) t[i] = ids[i];
    for (int64_t i = 0; i < l; ++i) {
      const int64_t target = t[i + 1];
      m[i] = target != o.pad_token && target != o.image_token ? 1.0f : 0.0f;
    }
    return Example{{kTokensKey, tokens}, {kImagesKey, images}, {kLossMaskKey, mask}};
  }

 private:
  LabeledImages images_;
  std::vector<std::string> names_;
  InterleavedOptions options_;
  int64_t size_;
};

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
  static const auto* names =
      new std::vector<std::string>{"t-shirt", "trouser", "pullover", "dress", "coat",
                                   "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return *names;
}

void write_normalized_image(const LabeledImages& set, int64_t i, const InterleavedOptions& options,
                            float* out) {
  const int64_t c = set.images.size(3);
  const int64_t n = set.images.numel() / set.images.size(0);
  const float* in = set.images.data<float>() + i * n;
  for (int64_t p = 0; p < n; ++p) {
    const size_t ch = options.mean.size() == 1 ? 0 : static_cast<size_t>(p % c);
    out[p] = static_cast<float>((in[p] - options.mean[ch]) / options.std[ch]);
  }
}

std::string caption(const std::string& templ, const std::string& class_name) {
  return absl::StrReplaceAll(templ, {{"{}", class_name}});
}

DatasetPtr interleaved_captions(const LabeledImages& images, std::vector<std::string> class_names,
                                const InterleavedOptions& options, int64_t size) {
  return std::make_shared<InterleavedCaptions>(images, std::move(class_names), options, size);
}

}  // namespace kiln::data
