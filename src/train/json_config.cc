#include "kiln/train/json_config.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kiln/io/file.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

std::string type_name(const Json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  if (v.is_null()) return "null";
  return "a value";
}

// Deep merge: objects merge key by key; anything else is replaced.
void merge_into(Json& base, const Json& top) {
  if (!base.is_object() || !top.is_object()) {
    base = top;
    return;
  }
  for (auto it = top.begin(); it != top.end(); ++it) {
    if (base.contains(it.key())) {
      merge_into(base[it.key()], it.value());
    } else {
      base[it.key()] = it.value();
    }
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

absl::StatusOr<Json> load_recursive(const fs::path& path, std::vector<fs::path>& chain) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": \"extends\" forms a cycle"));
  }
  absl::StatusOr<Json> parsed = read_json_file(path.string());
  if (!parsed.ok()) return parsed.status();
  Json config = std::move(*parsed);
  if (!config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": the top level must be a JSON object"));
  }
  if (!config.contains("extends")) return config;

  const Json extends = config["extends"];
  config.erase("extends");
  std::vector<std::string> bases;
  if (extends.is_string()) {
    bases.push_back(extends.get<std::string>());
  } else if (extends.is_array() && std::all_of(extends.begin(), extends.end(),
                                               [](const Json& e) { return e.is_string(); })) {
    for (const Json& e : extends) bases.push_back(e.get<std::string>());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": key \"extends\" must be a path or a list of paths"));
  }
  chain.push_back(canonical);
  Json merged = Json::object();
  for (const std::string& base : bases) {
    absl::StatusOr<Json> loaded = load_recursive(path.parent_path() / base, chain);
    if (!loaded.ok()) {
      return absl::Status(
          loaded.status().code(),
          absl::StrCat(loaded.status().message(), " (extended by ", path.string(), ")"));
    }
    merge_into(merged, *loaded);
  }
  chain.pop_back();
  merge_into(merged, config);
  return merged;
}

}  // namespace

absl::StatusOr<Json> parse_json(const std::string& text, const std::string& source) {
  // Keys seen so far in each open object, to reject duplicates.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case Json::parse_event_t::key: {
        const std::string key = parsed.get<std::string>();
        if (!open_objects.back().insert(key).second && duplicate.empty()) duplicate = key;
        break;
      }
      default:
        break;
    }
    return true;
  };
  Json result;
  try {
    result = Json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid JSON: ", e.what()));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": key \"", duplicate, "\" appears twice in the same object"));
  }
  return result;
}

absl::StatusOr<Json> read_json_file(const std::string& path) {
  absl::StatusOr<std::string> text = io::read_file(path);
  if (!text.ok()) return text.status();
  return parse_json(*text, path);
}

absl::StatusOr<Json> load_json_config(const std::string& path) {
  std::vector<fs::path> chain;
  return load_recursive(fs::path(path), chain);
}

absl::Status apply_override(Json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", assignment, ": expected key.path=value"));
  }
  const std::string key_path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;  // a bare string
  }
  std::vector<std::string> keys = absl::StrSplit(key_path, '.');
  Json* node = &config;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--set ", assignment, ": empty key in path"));
    }
    if (!node->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", assignment, ": ",
                       absl::StrJoin(keys.begin(), keys.begin() + static_cast<long>(i), "."),
                       " is not an object"));
    }
    if (i + 1 == keys.size()) {
      (*node)[keys[i]] = value;
    } else {
      if (!node->contains(keys[i])) (*node)[keys[i]] = Json::object();
      node = &(*node)[keys[i]];
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> did_you_mean(const std::string& word,
                                        const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

const Json ObjectReader::kEmptyObject = Json::object();

ObjectReader::ObjectReader(const Json& object, std::string path, std::string file)
    : object_(object), path_(std::move(path)), file_(std::move(file)) {
  if (!object_.is_object()) {
    throw ConfigError{absl::StrCat(file_, ": ", path_.empty() ? "the config" : "key " + path_,
                                   " must be an object, got ", type_name(object_))};
  }
}

std::string ObjectReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ObjectReader::fail(const std::string& key, const std::string& what) const {
  throw ConfigError{absl::StrCat(file_, ": key ", key_path(key), " ", what)};
}

bool ObjectReader::has(const std::string& key) const { return object_.contains(key); }

const Json& ObjectReader::get(const std::string& key) {
  read_.insert(key);
  return object_.at(key);
}

void ObjectReader::read(const std::string& key, double* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (!v.is_number()) fail(key, "must be a number, got " + type_name(v));
  *out = v.get<double>();
}

void ObjectReader::read(const std::string& key, int64_t* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (v.is_number_float() &&
      v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))) {
    *out = static_cast<int64_t>(v.get<double>());
    return;
  }
  if (!v.is_number_integer()) fail(key, "must be an integer, got " + type_name(v));
  *out = v.get<int64_t>();
}

void ObjectReader::read(const std::string& key, int* out) {
  int64_t value = *out;
  read(key, &value);
  if (value < INT32_MIN || value > INT32_MAX) fail(key, "is out of range");
  *out = static_cast<int>(value);
}

void ObjectReader::read(const std::string& key, bool* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (!v.is_boolean()) fail(key, "must be true or false, got " + type_name(v));
  *out = v.get<bool>();
}

void ObjectReader::read(const std::string& key, std::string* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (!v.is_string()) fail(key, "must be a string, got " + type_name(v));
  *out = v.get<std::string>();
}

void ObjectReader::read(const std::string& key, std::vector<int64_t>* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (!v.is_array()) fail(key, "must be a list of integers, got " + type_name(v));
  out->clear();
  for (const Json& e : v) {
    if (!e.is_number_integer()) fail(key, "must be a list of integers");
    out->push_back(e.get<int64_t>());
  }
}

void ObjectReader::read(const std::string& key, std::vector<double>* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (!v.is_array()) fail(key, "must be a list of numbers, got " + type_name(v));
  out->clear();
  for (const Json& e : v) {
    if (!e.is_number()) fail(key, "must be a list of numbers");
    out->push_back(e.get<double>());
  }
}

void ObjectReader::read(const std::string& key, std::vector<std::string>* out) {
  read_.insert(key);  // asked for: a known key even when absent
  if (!has(key)) return;
  const Json& v = get(key);
  if (!v.is_array()) fail(key, "must be a list of strings, got " + type_name(v));
  out->clear();
  for (const Json& e : v) {
    if (!e.is_string()) fail(key, "must be a list of strings");
    out->push_back(e.get<std::string>());
  }
}

void ObjectReader::check_range(const std::string& key, double value, double lo, double hi,
                               bool lo_inclusive, bool hi_inclusive) {
  const bool above = lo_inclusive ? value >= lo : value > lo;
  const bool below = hi_inclusive ? value <= hi : value < hi;
  if (!above || !below) {
    fail(key, absl::StrCat("must be in ", lo_inclusive ? "[" : "(", lo, ", ", hi,
                           hi_inclusive ? "]" : ")", ", got ", value));
  }
}

void ObjectReader::check_one_of(const std::string& key, const std::string& value,
                                const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string message = absl::StrCat("has unknown value \"", value,
                                     "\" (one of: ", absl::StrJoin(allowed, ", "), ")");
  if (auto guess = did_you_mean(value, allowed)) {
    message = absl::StrCat("has unknown value \"", value, "\"; did you mean \"", *guess, "\"?");
  }
  fail(key, message);
}

ObjectReader ObjectReader::object(const std::string& key) {
  if (!has(key)) {
    read_.insert(key);
    return ObjectReader(kEmptyObject, key_path(key), file_);
  }
  return ObjectReader(get(key), key_path(key), file_);
}

const Json& ObjectReader::raw(const std::string& key) {
  if (!has(key)) fail(key, "is required");
  return get(key);
}

void ObjectReader::finish() const {
  std::vector<std::string> known(read_.begin(), read_.end());
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (read_.count(it.key())) continue;
    std::string message = "is not a known key";
    if (auto guess = did_you_mean(it.key(), known)) {
      message += absl::StrCat("; did you mean \"", *guess, "\"?");
    } else if (!known.empty()) {
      message += absl::StrCat(" (known: ", absl::StrJoin(known, ", "), ")");
    }
    fail(it.key(), message);
  }
}

}  // namespace kiln::train
