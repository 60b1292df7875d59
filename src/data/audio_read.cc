// Reading audio files through libsndfile. libsndfile opens a WAV whose data
// chunk runs past the end of the file without complaint (it shortens the
// stream to the bytes present), so WAV headers are checked here first; for
// other formats a short read or a decoder error reveals truncation.
#include <sndfile.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kiln/data/audio.h"
#include "kiln/io/file.h"

namespace kiln::data {
namespace {

namespace fs = std::filesystem;

constexpr sf_count_t kChunkFrames = 1 << 16;
// 2^31 samples is over 12 hours at 48 kHz: a larger count is a corrupt
// header, not a clip to train on.
constexpr int64_t kMaxFrames = int64_t{1} << 31;

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

uint32_t read_le32(const unsigned char* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// For a RIFF/WAVE file, an error if its data chunk declares more bytes than
// the file holds. Other files, and WAVs libsndfile will reject anyway (no data
// chunk), pass: libsndfile reports those.
absl::Status check_wav_data_chunk(const std::string& path, uint64_t file_size) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return absl::OkStatus();  // sf_open reports it
  unsigned char header[12];
  if (std::fread(header, 1, 12, file.get()) != 12 || std::string(header, header + 4) != "RIFF" ||
      std::string(header + 8, header + 12) != "WAVE") {
    return absl::OkStatus();
  }
  uint64_t offset = 12;
  unsigned char chunk[8];
  while (offset + 8 <= file_size) {
    if (std::fseek(file.get(), static_cast<long>(offset), SEEK_SET) != 0 ||
        std::fread(chunk, 1, 8, file.get()) != 8) {
      return absl::OkStatus();
    }
    const uint32_t size = read_le32(chunk + 4);
    if (std::string(chunk, chunk + 4) == "data") {
      // 0 and 0xffffffff mark a stream written before its length was known.
      const uint64_t available = file_size - offset - 8;
      if (size != 0 && size != 0xffffffffu && size > available) {
        return absl::DataLossError(absl::StrCat(path, ": truncated WAV: the data chunk declares ",
                                                size, " bytes but only ", available,
                                                " remain in the file"));
      }
      return absl::OkStatus();
    }
    offset += 8 + uint64_t{size} + (size & 1);  // chunks are padded to even sizes
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Waveform> read_audio(const std::string& path) {
  if (absl::Status s = io::check_regular_file(path); !s.ok()) return s;
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(path, ": cannot stat: ", ec.message()));
  if (absl::Status wav = check_wav_data_chunk(path, file_size); !wav.ok()) return wav;

  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (file == nullptr) {
    const int code = sf_error(nullptr);
    const std::string message = sf_strerror(nullptr);
    if (code == SF_ERR_UNRECOGNISED_FORMAT) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not an audio file libsndfile can read: ", message));
    }
    return absl::DataLossError(absl::StrCat(path, ": cannot read audio: ", message));
  }
  if (info.channels < 1 || info.samplerate < 1) {
    return absl::DataLossError(absl::StrCat(path, ": bad header: ", info.channels, " channels at ",
                                            info.samplerate, " Hz"));
  }
  if (info.frames > kMaxFrames) {
    return absl::DataLossError(absl::StrCat(path, ": header declares ", info.frames,
                                            " frames, more than the limit of ", kMaxFrames));
  }

  // Read in chunks rather than trusting the header's frame count for one
  // allocation; mix down each chunk as it arrives.
  const int64_t channels = info.channels;
  std::vector<float> mono;
  std::vector<float> chunk(static_cast<size_t>(kChunkFrames * channels));
  const float scale = 1.0f / static_cast<float>(channels);
  while (true) {
    const sf_count_t got = sf_readf_float(file.get(), chunk.data(), kChunkFrames);
    for (sf_count_t f = 0; f < got; ++f) {
      float sum = 0.0f;
      for (int64_t c = 0; c < channels; ++c) sum += chunk[static_cast<size_t>(f * channels + c)];
      mono.push_back(channels == 1 ? sum : sum * scale);
    }
    if (got < kChunkFrames) break;
    if (static_cast<int64_t>(mono.size()) > kMaxFrames) {
      return absl::DataLossError(
          absl::StrCat(path, ": more than ", kMaxFrames, " frames: refusing to read on"));
    }
  }
  const int64_t frames = static_cast<int64_t>(mono.size());
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt or truncated audio after frame ",
                                            frames, " of ", info.frames, ": ",
                                            sf_strerror(file.get())));
  }
  if (frames < info.frames) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: the header declares ", info.frames,
                                            " frames but only ", frames, " could be read"));
  }
  Waveform out;
  out.sample_rate = info.samplerate;
  out.samples = Tensor::empty({frames}, DType::kF32);
  std::copy(mono.begin(), mono.end(), out.samples.data<float>());
  return out;
}

}  // namespace kiln::data
