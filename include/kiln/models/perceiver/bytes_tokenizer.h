// The byte vocabulary of Perceiver IO's language model, as the official
// perceiver/bytes_tokenizer.py: UTF-8 bytes offset by 6 reserved ids
// (PAD 0, BOS 1, EOS 2, MASK 3, CLS 4, SEP 5), 262 ids in all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::models::bytes_tokenizer {

inline constexpr int64_t kPad = 0;
inline constexpr int64_t kBos = 1;
inline constexpr int64_t kEos = 2;
inline constexpr int64_t kMask = 3;
inline constexpr int64_t kCls = 4;
inline constexpr int64_t kSep = 5;
inline constexpr int64_t kNumReserved = 6;
inline constexpr int64_t kVocabSize = 256 + kNumReserved;

// Byte b -> id b + 6.
inline int64_t byte_to_id(uint8_t byte) { return static_cast<int64_t>(byte) + kNumReserved; }

// The ids of a string's bytes.
inline std::vector<int64_t> to_ids(std::string_view text) {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(byte_to_id(static_cast<uint8_t>(c)));
  return ids;
}

// The bytes of the non-special ids (special ids and ids out of range are
// dropped, as to_string drops ids below 6).
inline std::string to_bytes(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) {
    if (id >= kNumReserved && id < kVocabSize) out.push_back(static_cast<char>(id - kNumReserved));
  }
  return out;
}

}  // namespace kiln::models::bytes_tokenizer
