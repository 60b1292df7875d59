// Byte-level text corpora cut into (T + 1)-byte windows.
#include "kiln/data/text.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kiln/core/error.h"
#include "kiln/io/file.h"
#include "src/data/file_util.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

// Windows over bytes [begin, end) of a shared corpus.
class TextWindowsDataset final : public Dataset {
 public:
  TextWindowsDataset(std::shared_ptr<const std::string> bytes, int64_t begin, int64_t end,
                     int64_t seq_len, int64_t stride)
      : bytes_(std::move(bytes)), begin_(begin), seq_len_(seq_len), stride_(stride) {
    const int64_t len = end - begin;
    count_ = len >= seq_len + 1 ? (len - seq_len - 1) / stride + 1 : 0;
  }

  int64_t size() const override { return count_; }

 protected:
  Example get_checked(int64_t index, const EpochKey&) const override {
    Tensor tokens = Tensor::empty({seq_len_ + 1}, DType::kI64);
    int64_t* dst = tokens.data<int64_t>();
    const auto* src =
        reinterpret_cast<const unsigned char*>(bytes_->data()) + begin_ + index * stride_;
    for (int64_t t = 0; t <= seq_len_; ++t) dst[t] = src[t];
    Example out;
    out.set(kTokensKey, std::move(tokens));
    return out;
  }

 private:
  std::shared_ptr<const std::string> bytes_;
  int64_t begin_;
  int64_t seq_len_;
  int64_t stride_;
  int64_t count_ = 0;
};

int64_t stride_of(const TextWindowsOptions& options) {
  return options.stride == 0 ? options.seq_len : options.stride;
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

absl::Status with_path(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::string> read_text_corpus(const std::string& path, char separator) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::is_directory(status)) {
    absl::StatusOr<std::string> bytes = io::read_file(path);
    if (bytes.ok() && bytes->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": the text file is empty"));
    }
    return bytes;
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot list the folder: ", ec.message()));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the folder holds no text files"));
  }
  std::sort(files.begin(), files.end());
  std::string corpus;
  for (size_t i = 0; i < files.size(); ++i) {
    absl::StatusOr<std::string> bytes = io::read_file(files[i].string());
    if (!bytes.ok()) return bytes.status();
    if (i > 0) corpus.push_back(separator);
    corpus += *bytes;
  }
  return corpus;
}

DatasetPtr text_windows(std::shared_ptr<const std::string> bytes,
                        const TextWindowsOptions& options) {
  KILN_CHECK(bytes != nullptr, "text_windows: null text");
  KILN_CHECK(options.seq_len >= 1, "text_windows: seq_len must be >= 1, got ", options.seq_len);
  KILN_CHECK(options.stride >= 0, "text_windows: stride must be >= 0, got ", options.stride);
  const int64_t size = static_cast<int64_t>(bytes->size());
  return std::make_shared<TextWindowsDataset>(std::move(bytes), 0, size, options.seq_len,
                                              stride_of(options));
}

absl::StatusOr<TextSplits> split_text(std::shared_ptr<const std::string> bytes,
                                      double held_out_fraction, const TextWindowsOptions& options) {
  if (bytes == nullptr) return absl::InvalidArgumentError("split_text: null text");
  if (options.seq_len < 1 || options.stride < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text: seq_len ", options.seq_len, " must be >= 1 and stride ", options.stride, " >= 0"));
  }
  if (!(held_out_fraction >= 0.0 && held_out_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("text: held-out fraction ", held_out_fraction, " is not in [0, 1)"));
  }
  const int64_t n = static_cast<int64_t>(bytes->size());
  const int64_t held =
      static_cast<int64_t>(std::llround(held_out_fraction * static_cast<double>(n)));
  const int64_t window = options.seq_len + 1;
  TextSplits splits;
  splits.train_bytes = n - held;
  splits.held_out_bytes = held;
  if (splits.train_bytes < window) {
    return absl::InvalidArgumentError(
        absl::StrCat("text: the training split has ", splits.train_bytes, " of ", n,
                     " bytes, fewer than one window of seq_len + 1 = ", window));
  }
  if (held > 0 && held < window) {
    return absl::InvalidArgumentError(
        absl::StrCat("text: the held-out split (fraction ", held_out_fraction, ") has ", held,
                     " of ", n, " bytes, fewer than one window of seq_len + 1 = ", window));
  }
  const int64_t stride = stride_of(options);
  splits.train =
      std::make_shared<TextWindowsDataset>(bytes, 0, splits.train_bytes, options.seq_len, stride);
  splits.held_out =
      std::make_shared<TextWindowsDataset>(bytes, splits.train_bytes, n, options.seq_len, stride);
  return splits;
}

absl::StatusOr<TextSplits> load_text(const std::string& path, double held_out_fraction,
                                     const TextWindowsOptions& options, char separator) {
  absl::StatusOr<std::string> corpus = read_text_corpus(path, separator);
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<TextSplits> splits = split_text(
      std::make_shared<const std::string>(*std::move(corpus)), held_out_fraction, options);
  if (!splits.ok()) return with_path(path, splits.status());
  return splits;
}

}  // namespace kiln::data
