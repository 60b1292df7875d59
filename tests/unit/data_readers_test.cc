// Dataset readers: IDX (raw and gzip), CIFAR, text corpora, synthetic data.
// Every malformed input gives an error naming the file and the problem.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kiln/data/cifar.h"
#include "kiln/data/idx.h"
#include "kiln/data/synthetic.h"
#include "kiln/data/text.h"
#include "support/temp_dir.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class DataFiles : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  kiln::testing::TempDir tmp_;
  std::string dir_ = tmp_.path().string();
};

void write_bytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip(const std::string& bytes) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, bytes.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// An idx3 file of n images of h x w where pixel k of image i is (i * 7 + k) % 256.
std::string idx_images(uint32_t n, uint32_t h, uint32_t w) {
  std::string out = std::string("\0\0\x08\x03", 4) + be32(n) + be32(h) + be32(w);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t k = 0; k < h * w; ++k) out.push_back(static_cast<char>((i * 7 + k) % 256));
  }
  return out;
}

std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string out = std::string("\0\0\x08\x01", 4) + be32(static_cast<uint32_t>(labels.size()));
  for (uint8_t l : labels) out.push_back(static_cast<char>(l));
  return out;
}

// Asserts an error whose message holds the path and every fragment.
template <class T>
void expect_error(const absl::StatusOr<T>& result, const std::string& path,
                  const std::vector<std::string>& fragments) {
  ASSERT_FALSE(result.ok()) << "expected an error for " << path;
  const std::string message(result.status().message());
  EXPECT_NE(message.find(path), std::string::npos) << message;
  for (const std::string& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message;
}

TEST_F(DataFiles, IdxImagesAndLabelsRawAndGzip) {
  const std::string images = idx_images(3, 4, 5);
  const std::string labels = idx_labels({1, 0, 9});
  write_bytes(path("img"), images);
  write_bytes(path("lab"), labels);
  write_bytes(path("img.gz"), gzip(images));
  write_bytes(path("lab.gz"), gzip(labels));
  for (const auto& [img, lab] : {std::pair{"img", "lab"}, std::pair{"img.gz", "lab.gz"}}) {
    absl::StatusOr<LabeledImages> data = read_idx_dataset(path(img), path(lab));
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(data->images.shape(), Shape({3, 4, 5, 1}));
    EXPECT_EQ(data->images.dtype(), DType::kF32);
    const std::vector<float> px = to_float_vector(data->images);
    EXPECT_FLOAT_EQ(px[0], 0.0f);
    EXPECT_FLOAT_EQ(px[20 + 3], (7 + 3) / 255.0f);  // image 1, pixel 3
    EXPECT_EQ(to_vector(data->labels), (std::vector<double>{1, 0, 9}));
    EXPECT_EQ(data->labels.dtype(), DType::kI64);
    EXPECT_EQ(data->num_classes, 10);
  }
  // Full range: 255 -> 1.
  std::string bright = std::string("\0\0\x08\x03", 4) + be32(1) + be32(1) + be32(2) + "\xff\x80";
  write_bytes(path("bright"), bright);
  absl::StatusOr<Tensor> b = read_idx_images(path("bright"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(to_float_vector(*b), (std::vector<float>{1.0f, 128.0f / 255.0f}));
  // The labeled dataset view.
  absl::StatusOr<LabeledImages> data = read_idx_dataset(path("img"), path("lab"));
  ASSERT_TRUE(data.ok());
  DatasetPtr ds = labeled_images_dataset(*data);
  EXPECT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->get(2).at(kLabelKey).item<int64_t>(), 9);
  EXPECT_EQ(ds->get(2).at(kImageKey).shape(), Shape({4, 5, 1}));
}

TEST_F(DataFiles, TruncatedIdxFilesAreErrors) {
  const std::string images = idx_images(3, 4, 5);  // 16-byte header + 60 bytes
  for (size_t cut : {size_t{0}, size_t{2}, size_t{5}, size_t{12}, size_t{15}, size_t{16},
                     size_t{40}, images.size() - 1}) {
    SCOPED_TRACE(cut);
    const std::string p = path("cut" + std::to_string(cut));
    write_bytes(p, images.substr(0, cut));
    expect_error(read_idx_images(p), p, {"truncated"});
    // Truncating the gzip file instead of its content.
    const std::string gz = gzip(images);
    if (cut >= 2 && cut < gz.size()) {
      write_bytes(p + ".gz", gz.substr(0, cut));
      expect_error(read_idx_images(p + ".gz"), p + ".gz", {"truncated"});
    }
  }
  const std::string labels = idx_labels({1, 2, 3});
  write_bytes(path("lab"), labels.substr(0, labels.size() - 1));
  expect_error(read_idx_labels(path("lab")), path("lab"), {"truncated", "3", "2 data bytes"});
}

TEST_F(DataFiles, BadIdxHeadersAndContentAreErrors) {
  std::string images = idx_images(2, 3, 3);
  std::string bad_magic = images;
  bad_magic[0] = 0x12;
  write_bytes(path("magic"), bad_magic);
  expect_error(read_idx_images(path("magic")), path("magic"), {"bad magic number", "0x12"});

  std::string bad_type = images;
  bad_type[2] = 0x0d;  // float
  write_bytes(path("type"), bad_type);
  expect_error(read_idx_images(path("type")), path("type"), {"type code 0x0d"});

  write_bytes(path("labels_as_images"), idx_labels({1, 2}));
  expect_error(read_idx_images(path("labels_as_images")), path("labels_as_images"),
               {"1 dims", "need 3"});

  write_bytes(path("extra"), images + "xyz");
  expect_error(read_idx_images(path("extra")), path("extra"),
               {"inconsistent sizes", "= 18 bytes", "21 data bytes"});

  // Dims whose product overflows 64 bits.
  write_bytes(path("huge"), std::string("\0\0\x08\x03", 4) + be32(0xffffffff) + be32(0xffffffff) +
                                be32(0xffffffff));
  expect_error(read_idx_images(path("huge")), path("huge"), {"truncated"});

  write_bytes(path("lab"), idx_labels({1, 10, 2}));
  expect_error(read_idx_labels(path("lab")), path("lab"),
               {"label 10", "example 1", "out of range [0, 10)"});
  EXPECT_TRUE(read_idx_labels(path("lab"), 11).ok());

  write_bytes(path("img"), images);
  write_bytes(path("lab3"), idx_labels({1, 2, 3}));
  absl::StatusOr<LabeledImages> mismatch = read_idx_dataset(path("img"), path("lab3"));
  expect_error(mismatch, path("img"), {"2 images", path("lab3"), "3 labels"});

  absl::StatusOr<Tensor> missing = read_idx_images(path("nope"));
  expect_error(missing, path("nope"), {"cannot open"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  expect_error(read_idx_images(dir_), dir_, {"not a regular file"});
}

TEST_F(DataFiles, CorruptGzipIsAnError) {
  const std::string gz = gzip(idx_images(20, 8, 8));
  std::string corrupt = gz;
  for (size_t i = 12; i < 30; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  write_bytes(path("corrupt.gz"), corrupt);
  expect_error(read_idx_images(path("corrupt.gz")), path("corrupt.gz"), {"gzip"});
  // A damaged CRC at the end.
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] = static_cast<char>(bad_crc[bad_crc.size() - 6] ^ 1);
  write_bytes(path("crc.gz"), bad_crc);
  expect_error(read_idx_images(path("crc.gz")), path("crc.gz"), {"corrupt gzip"});
  // Garbage after the stream.
  write_bytes(path("trailing.gz"), gz + "junk");
  expect_error(read_idx_images(path("trailing.gz")), path("trailing.gz"), {"after the gzip"});
  // Two members concatenated read as one stream.
  const std::string images = idx_images(2, 2, 2);
  write_bytes(path("two.gz"), gzip(images.substr(0, 10)) + gzip(images.substr(10)));
  absl::StatusOr<Tensor> two = read_idx_images(path("two.gz"));
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->shape(), Shape({2, 2, 2, 1}));
}

TEST_F(DataFiles, LoadMnistFindsRawOrGzipFiles) {
  write_bytes(path("train-images-idx3-ubyte.gz"), gzip(idx_images(4, 28, 28)));
  write_bytes(path("train-labels-idx1-ubyte"), idx_labels({0, 1, 2, 3}));
  absl::StatusOr<LabeledImages> train = load_mnist(dir_, true);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->images.shape(), Shape({4, 28, 28, 1}));
  absl::StatusOr<LabeledImages> test = load_mnist(dir_, false);
  expect_error(test, dir_, {"t10k-images-idx3-ubyte.gz"});
  EXPECT_EQ(test.status().code(), absl::StatusCode::kNotFound);
}

TEST(DataFashionMnist, ReadsTheInstalledDataset) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(fs::path(dir) / "t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << dir << " is not installed";
  }
  for (bool train : {false, true}) {
    absl::StatusOr<LabeledImages> data = load_mnist(dir, train);
    ASSERT_TRUE(data.ok()) << data.status();
    const int64_t n = train ? 60000 : 10000;
    EXPECT_EQ(data->images.shape(), Shape({n, 28, 28, 1}));
    EXPECT_EQ(data->labels.shape(), Shape({n}));
    // Read the pixels in place: copying 47M of them would dominate the test.
    const float* px = data->images.data<float>();
    const auto [lo, hi] = std::minmax_element(px, px + data->images.numel());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
    // Fashion-MNIST is balanced: n / 10 of each class.
    std::vector<int64_t> counts(10, 0);
    const int64_t* labels = data->labels.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) ++counts[labels[i]];
    for (int64_t c : counts) EXPECT_EQ(c, n / 10);
  }
}

// CIFAR-10 records where image i has value (i + c * 10 + p) % 256 at plane c, pixel p.
std::string cifar_records(const std::vector<uint8_t>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back(static_cast<char>(labels[i]));
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 1024; ++p) out.push_back(static_cast<char>((i + c * 10 + p) % 256));
    }
  }
  return out;
}

TEST_F(DataFiles, CifarRecordsBecomeHwcImages) {
  write_bytes(path("b.bin"), cifar_records({3, 9}));
  absl::StatusOr<LabeledImages> data = read_cifar_file(path("b.bin"));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->images.shape(), Shape({2, 32, 32, 3}));
  EXPECT_EQ(to_vector(data->labels), (std::vector<double>{3, 9}));
  const std::vector<float> px = to_float_vector(data->images);
  // Image 1, row 2, column 5, channel 2: plane 2, pixel 2 * 32 + 5.
  const size_t at = 3072 + (2 * 32 + 5) * 3 + 2;
  EXPECT_FLOAT_EQ(px[at], static_cast<float>((1 + 20 + 69) % 256) / 255.0f);

  // Five training batches are concatenated; the test batch is separate.
  for (int i = 1; i <= 5; ++i) {
    write_bytes(path("data_batch_" + std::to_string(i) + ".bin"),
                cifar_records({static_cast<uint8_t>(i), 0}));
  }
  absl::StatusOr<LabeledImages> train = load_cifar(dir_, true);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->images.shape(), Shape({10, 32, 32, 3}));
  EXPECT_EQ(to_vector(train->labels), (std::vector<double>{1, 0, 2, 0, 3, 0, 4, 0, 5, 0}));
  expect_error(load_cifar(dir_, false), path("test_batch.bin"), {"cannot open"});

  // CIFAR-100: coarse then fine label.
  std::string rec100 = cifar_records({7});
  rec100.insert(rec100.begin(), static_cast<char>(2));
  rec100[1] = static_cast<char>(77);
  write_bytes(path("train.bin"), rec100);
  absl::StatusOr<LabeledImages> c100 = load_cifar(dir_, true, CifarVariant::kCifar100);
  ASSERT_TRUE(c100.ok()) << c100.status();
  EXPECT_EQ(c100->num_classes, 100);
  EXPECT_EQ(to_vector(c100->labels), (std::vector<double>{77}));
}

TEST_F(DataFiles, CifarWrongSizeAndLabelsAreErrors) {
  const std::string good = cifar_records({1, 2});
  write_bytes(path("short.bin"), good.substr(0, good.size() - 1));
  expect_error(read_cifar_file(path("short.bin")), path("short.bin"),
               {std::to_string(good.size() - 1), "3073"});
  write_bytes(path("empty.bin"), "");
  expect_error(read_cifar_file(path("empty.bin")), path("empty.bin"), {"size 0"});
  write_bytes(path("label.bin"), cifar_records({1, 10}));
  expect_error(read_cifar_file(path("label.bin")), path("label.bin"),
               {"record 1", "label 10", "[0, 10)"});
  // A CIFAR-10 file is not a CIFAR-100 file (3073 does not divide by 3074).
  write_bytes(path("ten.bin"), cifar_records({1}));
  expect_error(read_cifar_file(path("ten.bin"), CifarVariant::kCifar100), path("ten.bin"),
               {"3074"});
}

TEST_F(DataFiles, TextFolderIsSortedAndJoined) {
  write_bytes(path("corpus/b.txt"), "bbb");
  write_bytes(path("corpus/a.txt"), "aa");
  write_bytes(path("corpus/sub/c.txt"), "c");
  write_bytes(path("corpus/.hidden"), "hidden");
  write_bytes(path("corpus/.git/x"), "git");
  absl::StatusOr<std::string> text = read_text_corpus(path("corpus"), '|');
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "aa|bbb|c");
  absl::StatusOr<std::string> one = read_text_corpus(path("corpus/b.txt"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, "bbb");
  fs::create_directories(path("empty_dir"));
  expect_error(read_text_corpus(path("empty_dir")), path("empty_dir"), {"no text files"});
  write_bytes(path("empty.txt"), "");
  expect_error(read_text_corpus(path("empty.txt")), path("empty.txt"), {"empty"});
  expect_error(read_text_corpus(path("missing")), path("missing"), {"cannot open"});
}

TEST_F(DataFiles, TextSplitSizesAndWindows) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>(i % 251));
  write_bytes(path("t.txt"), text);
  absl::StatusOr<TextSplits> splits = load_text(path("t.txt"), 0.1, {.seq_len = 9});
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(splits->train_bytes, 900);
  EXPECT_EQ(splits->held_out_bytes, 100);
  // Windows of 10 bytes starting every 9: (bytes - 1) / 9 of them.
  EXPECT_EQ(splits->train->size(), 899 / 9);
  EXPECT_EQ(splits->held_out->size(), 99 / 9);
  Tensor w = splits->train->get(3).at(kTokensKey);
  EXPECT_EQ(w.shape(), Shape({10}));
  EXPECT_EQ(w.dtype(), DType::kI64);
  EXPECT_EQ(to_vector(w)[0], 27);
  EXPECT_EQ(to_vector(w)[9], 36);
  EXPECT_EQ(to_vector(splits->held_out->get(0).at(kTokensKey))[0], 900 % 251);
  // The last held-out window ends inside the text.
  const int64_t last = splits->held_out->size() - 1;
  EXPECT_LE(900 + last * 9 + 10, 1000);

  absl::StatusOr<TextSplits> strided = load_text(path("t.txt"), 0.0, {.seq_len = 9, .stride = 20});
  ASSERT_TRUE(strided.ok());
  EXPECT_EQ(strided->train->size(), (1000 - 10) / 20 + 1);
  EXPECT_EQ(strided->held_out->size(), 0);

  expect_error(load_text(path("t.txt"), 0.005, {.seq_len = 9}), path("t.txt"),
               {"held-out split", "5 of 1000 bytes"});
  expect_error(load_text(path("t.txt"), 1.0, {.seq_len = 9}), path("t.txt"), {"fraction"});
  expect_error(load_text(path("t.txt"), 0.1, {.seq_len = 2000}), path("t.txt"), {"training split"});
  EXPECT_THROW(text_windows(std::make_shared<const std::string>("abc"), {.seq_len = 0}), Error);
  EXPECT_EQ(text_windows(std::make_shared<const std::string>("abc"), {.seq_len = 3})->size(), 0);
}

TEST(DataSynthetic, ImagesAreDeterministicAndInRange) {
  DatasetPtr ds = synthetic_images(
      {.size = 20, .height = 4, .width = 5, .channels = 3, .num_classes = 7, .seed = 1});
  EXPECT_EQ(ds->size(), 20);
  Example e = ds->get(3);
  EXPECT_EQ(e.at(kImageKey).shape(), Shape({4, 5, 3}));
  EXPECT_EQ(e.at(kLabelKey).dim(), 0);
  EXPECT_EQ(to_vector(e.at(kImageKey)), to_vector(ds->get(3, {9, 4}).at(kImageKey)));
  EXPECT_NE(to_vector(e.at(kImageKey)), to_vector(ds->get(4).at(kImageKey)));
  std::set<int64_t> labels;
  for (int64_t i = 0; i < 20; ++i) {
    Example x = ds->get(i);
    labels.insert(x.at(kLabelKey).item<int64_t>());
    for (float v : to_float_vector(x.at(kImageKey))) {
      EXPECT_GE(v, 0.0f);
      EXPECT_LT(v, 1.0f);
    }
  }
  EXPECT_GT(labels.size(), 3u);
  EXPECT_LE(*labels.rbegin(), 6);
  DatasetPtr tokens = synthetic_tokens({.size = 5, .seq_len = 8, .vocab_size = 11});
  Tensor t = tokens->get(2).at(kTokensKey);
  EXPECT_EQ(t.shape(), Shape({9}));
  for (double v : to_vector(t)) EXPECT_TRUE(v >= 0 && v < 11);
}

TEST(DataSynthetic, LearnableLabelIsAFunctionOfTheImage) {
  const SyntheticImagesOptions o{
      .size = 200, .height = 3, .width = 3, .channels = 2, .num_classes = 4, .seed = 5};
  DatasetPtr ds = learnable_images(o);
  std::vector<int64_t> counts(4, 0);
  for (int64_t i = 0; i < o.size; ++i) {
    Example e = ds->get(i);
    const int64_t label = e.at(kLabelKey).item<int64_t>();
    EXPECT_EQ(label, learnable_label(o, e.at(kImageKey)));
    ++counts[label];
  }
  // Every class occurs.
  for (int64_t c : counts) EXPECT_GT(c, 10);
  // The same image under a different seed's directions may get another label:
  // the directions come from the seed.
  SyntheticImagesOptions other = o;
  other.seed = 6;
  int differ = 0;
  for (int64_t i = 0; i < 50; ++i) {
    const Tensor image = ds->get(i).at(kImageKey);
    differ += learnable_label(o, image) != learnable_label(other, image);
  }
  EXPECT_GT(differ, 0);
}

}  // namespace
}  // namespace kiln::data
