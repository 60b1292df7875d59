// Byte-level text for language modelling: a corpus of raw bytes (vocabulary
// of 256) cut into windows of seq_len + 1 bytes, with the last fraction of
// the bytes held out for evaluation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"

namespace kiln::data {

inline constexpr int64_t kByteVocabSize = 256;

// A file's bytes, or for a folder, the bytes of every regular file under it
// (recursively, sorted by path, skipping names that start with '.') joined
// by `separator`. Errors name the path; an empty corpus is an error.
absl::StatusOr<std::string> read_text_corpus(const std::string& path, char separator = '\n');

struct TextWindowsOptions {
  int64_t seq_len = 256;  // T
  // Start of window i is i * stride; 0 means seq_len (consecutive windows
  // share one byte, so every byte but the first is a target once).
  int64_t stride = 0;
};

// Examples {"tokens": (T + 1) i64} over `bytes`: inputs are tokens[0:T],
// targets tokens[1:T+1]. A text shorter than one window gives no examples.
DatasetPtr text_windows(std::shared_ptr<const std::string> bytes,
                        const TextWindowsOptions& options);

struct TextSplits {
  DatasetPtr train;
  DatasetPtr held_out;
  int64_t train_bytes = 0;
  int64_t held_out_bytes = 0;
};

// Splits the corpus at byte size - round(held_out_fraction * size): train
// windows come from the bytes before, held-out windows from the bytes after.
// Errors if held_out_fraction is outside [0, 1) or a non-empty split is
// shorter than one window.
absl::StatusOr<TextSplits> split_text(std::shared_ptr<const std::string> bytes,
                                      double held_out_fraction, const TextWindowsOptions& options);
// read_text_corpus then split_text.
absl::StatusOr<TextSplits> load_text(const std::string& path, double held_out_fraction,
                                     const TextWindowsOptions& options, char separator = '\n');

}  // namespace kiln::data
