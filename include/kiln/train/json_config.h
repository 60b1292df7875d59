// Reading JSON configs: files with "extends", duplicate-key detection,
// "--set a.b.c=value" overrides, and typed access that names the file and
// the key path in every error and suggests the closest known key for an
// unknown one.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kiln::train {

using Json = nlohmann::ordered_json;

// Parses JSON text, rejecting duplicate keys. `source` names the text in errors.
absl::StatusOr<Json> parse_json(const std::string& text, const std::string& source);

// Reads and parses a JSON file as it is (no "extends"): a run's saved
// config or summary, an evaluation cache. Errors name the file.
absl::StatusOr<Json> read_json_file(const std::string& path);

// Loads a config file, resolving "extends" (a path relative to the file, or
// a list of them; later entries and the file itself override earlier ones,
// objects merging key by key).
absl::StatusOr<Json> load_json_config(const std::string& path);

// Applies "a.b.c=value": value is parsed as JSON when it is valid JSON
// (numbers, true/false/null, lists, objects, quoted strings), else taken
// as a string. Missing objects on the path are created.
absl::Status apply_override(Json& config, const std::string& assignment);

// The closest of `candidates` to `word` by edit distance, if close enough
// to be a plausible typo.
std::optional<std::string> did_you_mean(const std::string& word,
                                        const std::vector<std::string>& candidates);

// Thrown by ObjectReader; load functions turn it into an absl::Status.
struct ConfigError {
  std::string message;
};

// Typed, checked reads from one JSON object. Every key read is recorded;
// finish() rejects the keys that were never read.
class ObjectReader {
 public:
  // `path` is the dotted key path of this object ("" for the root), `file`
  // the config file, both for messages.
  ObjectReader(const Json& object, std::string path, std::string file);

  bool has(const std::string& key) const;
  // Reads `key` into `out` if present (leaving the default otherwise).
  void read(const std::string& key, double* out);
  void read(const std::string& key, int64_t* out);
  void read(const std::string& key, int* out);
  void read(const std::string& key, bool* out);
  void read(const std::string& key, std::string* out);
  void read(const std::string& key, std::vector<int64_t>* out);
  void read(const std::string& key, std::vector<double>* out);
  void read(const std::string& key, std::vector<std::string>* out);
  // As read, but the key must be present.
  template <class T>
  void require(const std::string& key, T* out) {
    if (!has(key)) fail(key, "is required");
    read(key, out);
  }
  // Range checks on a value already read (messages name the key).
  void check_range(const std::string& key, double value, double lo, double hi,
                   bool lo_inclusive = true, bool hi_inclusive = true);
  void check_one_of(const std::string& key, const std::string& value,
                    const std::vector<std::string>& allowed);
  // A nested object (an empty one if absent).
  ObjectReader object(const std::string& key);
  // The raw JSON of `key` (marks it read).
  const Json& raw(const std::string& key);
  // Marks keys as known without reading them.
  void ignore(const std::string& key) { read_.insert(key); }
  // Throws ConfigError for keys that were never read.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  std::string key_path(const std::string& key) const;
  const std::string& file() const { return file_; }

 private:
  const Json& get(const std::string& key);

  const Json& object_;
  std::string path_;
  std::string file_;
  std::set<std::string> read_;
  static const Json kEmptyObject;
};

}  // namespace kiln::train
