// Interleaved image-text sequences for Flamingo, built from labelled images
// and captions made from their class names: each example is 1..N (image,
// caption) pairs written as byte tokens
//
//   <image>a photo of a sneaker<EOC><image>this is a bag<EOC>...<PAD>...
//
// <image>, <EOC> and <PAD> are byte values that English text does not use
// (by default 0x01, 0x02 and 0x00), so a byte-level LM pre-trained on text
// keeps its vocabulary of 256; Flamingo gives <image> and <EOC> trainable
// embeddings of their own.
//
// Example tensors: "tokens" (L + 1) i64 (inputs [0, L), targets [1, L + 1)),
// "images" (N, H, W, C) f32 (image j belongs to the j-th <image> token;
// unused slots are zeros), "loss_mask" (L) f32: 1 where the target is
// caption text or <EOC>, 0 for targets that are <image> or <PAD>.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/data/dataset.h"

namespace kiln::data {

inline constexpr char kImagesKey[] = "images";
inline constexpr char kLossMaskKey[] = "loss_mask";

struct InterleavedOptions {
  int64_t sequence_length = 128;  // L
  int64_t min_images = 1;
  int64_t max_images = 4;  // N
  int64_t image_token = 1;
  int64_t eoc_token = 2;
  int64_t pad_token = 0;
  // Images are normalised per channel as (x - mean) / std (one value: all
  // channels), as the vision encoder saw them in its own training.
  std::vector<double> mean = {0.0};
  std::vector<double> std = {1.0};
  // "{}" is replaced by the class name. The bare name is the few-shot
  // prompt's format (kiln fewshot), short enough for 8 shots in 128 bytes.
  std::vector<std::string> templates = {"{}", "a photo of a {}", "this is a {}",
                                        "a picture of a {}"};
};

// The class names of Fashion-MNIST, in label order (lower case).
const std::vector<std::string>& fashion_mnist_class_names();

// Writes image i of `set` (contiguous (N, H, W, C)) to `out` (H W C floats),
// normalised by options.mean and options.std.
void write_normalized_image(const LabeledImages& set, int64_t i, const InterleavedOptions& options,
                            float* out);

// One caption: the template with the class name filled in.
std::string caption(const std::string& templ, const std::string& class_name);

// `size` examples (one per index; the pairs of example i are drawn from
// (key, i) over all of `images`). Throws kiln::Error for bad options or a
// sequence that cannot hold max_images of the longest caption.
DatasetPtr interleaved_captions(const LabeledImages& images, std::vector<std::string> class_names,
                                const InterleavedOptions& options, int64_t size);

}  // namespace kiln::data
