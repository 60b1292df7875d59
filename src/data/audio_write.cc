// Writing WAVs and reading their comment string through libsndfile.
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kiln/data/audio.h"

namespace kiln::data {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

}  // namespace

absl::Status write_wav(const std::string& path, const Waveform& waveform,
                       const std::string& comment) {
  const Tensor& x = waveform.samples;
  if (!x.defined() || x.dim() != 1 || x.dtype() != DType::kF32 || waveform.sample_rate < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": write_wav needs a (T) f32 waveform with a positive sample rate"));
  }
  // The process id keeps two writers of one directory apart.
  const std::string tmp = absl::StrCat(path, ".tmp", getpid());
  SF_INFO info{};
  info.samplerate = static_cast<int>(waveform.sample_rate);
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  {
    std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(tmp.c_str(), SFM_WRITE, &info));
    if (file == nullptr) {
      return absl::PermissionDeniedError(
          absl::StrCat(tmp, ": cannot write: ", sf_strerror(nullptr)));
    }
    if (!comment.empty()) sf_set_string(file.get(), SF_STR_COMMENT, comment.c_str());
    const Tensor src = as_contiguous(x);
    std::vector<float> clipped(src.data<float>(), src.data<float>() + src.numel());
    for (float& v : clipped) v = std::clamp(v, -1.0f, 1.0f);
    const auto n = static_cast<sf_count_t>(clipped.size());
    if (sf_writef_float(file.get(), clipped.data(), n) != n) {
      const std::string message = sf_strerror(file.get());
      file.reset();
      std::filesystem::remove(tmp);
      return absl::DataLossError(absl::StrCat(tmp, ": short write: ", message));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot rename into place"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> read_audio_comment(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: no such file"));
  }
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (file == nullptr) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read audio: ", sf_strerror(nullptr)));
  }
  const char* comment = sf_get_string(file.get(), SF_STR_COMMENT);
  return std::string(comment == nullptr ? "" : comment);
}

}  // namespace kiln::data
