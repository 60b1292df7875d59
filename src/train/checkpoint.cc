#include "kiln/train/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/io/file.h"
#include "kiln/io/safetensors.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

constexpr char kManifest[] = "manifest.json";
constexpr char kLatest[] = "LATEST";
constexpr int kFormatVersion = 1;

std::string step_dir_name(int64_t step) { return absl::StrFormat("step_%010d", step); }

}  // namespace

CheckpointManager::CheckpointManager(std::string directory, int64_t keep)
    : directory_(std::move(directory)), keep_(std::max<int64_t>(keep, 1)) {}

absl::Status CheckpointManager::save(const Checkpoint& checkpoint) {
  std::error_code ec;
  const fs::path root(directory_);
  fs::create_directories(root, ec);
  if (ec) return absl::InternalError(absl::StrCat(directory_, ": cannot create: ", ec.message()));
  const std::string name = step_dir_name(checkpoint.step);
  const fs::path final_dir = root / name;
  const fs::path tmp_dir = root / (name + ".tmp");
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(tmp_dir.string(), ": cannot create"));

  Json manifest = {{"format_version", kFormatVersion},
                   {"step", checkpoint.step},
                   {"state", checkpoint.state},
                   {"files", Json::object()}};
  for (const auto& [group, tensors] : checkpoint.groups) {
    const fs::path file = tmp_dir / (group + ".safetensors");
    absl::Status saved = save_safetensors(file.string(), tensors);
    if (!saved.ok()) {
      fs::remove_all(tmp_dir, ec);
      return saved;
    }
    manifest["files"][group + ".safetensors"] = fs::file_size(file, ec);
  }
  absl::Status written = io::write_file_atomic((tmp_dir / kManifest).string(), manifest.dump(2));
  if (!written.ok()) {
    fs::remove_all(tmp_dir, ec);
    return written;
  }
  // Replace an older checkpoint of the same step (a re-run after resume).
  if (fs::exists(final_dir)) fs::remove_all(final_dir, ec);
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) {
    fs::remove_all(tmp_dir, ec);
    return absl::InternalError(absl::StrCat(final_dir.string(), ": rename failed"));
  }
  absl::Status synced = io::fsync_path(root.string(), true);
  if (!synced.ok()) return synced;
  absl::Status pointer = io::write_file_atomic((root / kLatest).string(), name + "\n");
  if (!pointer.ok()) return pointer;

  // Keep the newest K complete checkpoints.
  std::vector<std::string> steps;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string n = entry.path().filename().string();
    if (entry.is_directory() && n.rfind("step_", 0) == 0 && n.find('.') == std::string::npos) {
      steps.push_back(n);
    }
  }
  std::sort(steps.begin(), steps.end());
  for (size_t i = 0; i + static_cast<size_t>(keep_) < steps.size(); ++i) {
    if (steps[i] != name) fs::remove_all(root / steps[i], ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> CheckpointManager::load(const std::string& checkpoint_dir) {
  const fs::path dir(checkpoint_dir);
  absl::StatusOr<std::string> text = io::read_file((dir / kManifest).string());
  if (!text.ok()) return text.status();
  absl::StatusOr<Json> manifest = parse_json(*text, (dir / kManifest).string());
  if (!manifest.ok()) return manifest.status();
  const std::string where = (dir / kManifest).string();
  if (!manifest->is_object() || !manifest->contains("step") ||
      !(*manifest)["step"].is_number_integer() || !manifest->contains("files") ||
      !(*manifest)["files"].is_object() || !manifest->contains("state") ||
      !(*manifest)["state"].is_object()) {
    return absl::DataLossError(absl::StrCat(where,
                                            ": not a kiln checkpoint manifest (needs "
                                            "integer \"step\", objects \"files\" and \"state\")"));
  }
  if (manifest->value("format_version", 0) != kFormatVersion) {
    return absl::DataLossError(absl::StrCat(where, ": unsupported format_version"));
  }
  Checkpoint checkpoint;
  checkpoint.step = (*manifest)["step"].get<int64_t>();
  checkpoint.state = (*manifest)["state"];
  for (auto it = (*manifest)["files"].begin(); it != (*manifest)["files"].end(); ++it) {
    const std::string file = it.key();
    const std::string suffix = ".safetensors";
    if (file.size() <= suffix.size() || file.substr(file.size() - suffix.size()) != suffix ||
        file.find('/') != std::string::npos || !it.value().is_number_unsigned()) {
      return absl::DataLossError(absl::StrCat(where, ": bad entry \"", file, "\" in files"));
    }
    const fs::path path = dir / file;
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec || size != it.value().get<uint64_t>()) {
      return absl::DataLossError(
          absl::StrCat(path.string(), ": size ", ec ? 0 : size, " differs from the manifest's ",
                       it.value().get<uint64_t>(), " (truncated or replaced)"));
    }
    absl::StatusOr<SafetensorsFile> loaded = load_safetensors(path.string());
    if (!loaded.ok()) return loaded.status();
    nn::NamedTensors tensors;
    for (size_t i = 0; i < loaded->names.size(); ++i) {
      tensors.emplace_back(loaded->names[i], loaded->tensors[i]);
    }
    checkpoint.groups[file.substr(0, file.size() - suffix.size())] = std::move(tensors);
  }
  return checkpoint;
}

absl::StatusOr<Checkpoint> CheckpointManager::load_latest() const {
  const fs::path root(directory_);
  absl::StatusOr<std::string> pointer = io::read_file((root / kLatest).string());
  absl::Status pointer_error = absl::OkStatus();
  if (pointer.ok()) {
    std::string name = *pointer;
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    if (!name.empty() && name.find('/') == std::string::npos) {
      absl::StatusOr<Checkpoint> checkpoint = load((root / name).string());
      if (checkpoint.ok()) return checkpoint;
      pointer_error = checkpoint.status();
    }
  }
  // LATEST missing or broken: fall back to the newest valid step directory.
  std::vector<std::string> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string n = entry.path().filename().string();
    if (entry.is_directory() && n.rfind("step_", 0) == 0 && n.find('.') == std::string::npos) {
      steps.push_back(n);
    }
  }
  std::sort(steps.rbegin(), steps.rend());
  for (const std::string& n : steps) {
    absl::StatusOr<Checkpoint> checkpoint = load((root / n).string());
    if (checkpoint.ok()) return checkpoint;
    if (pointer_error.ok()) pointer_error = checkpoint.status();
  }
  if (!pointer_error.ok()) {
    return absl::DataLossError(absl::StrCat(
        directory_, ": no usable checkpoint; newest error: ", pointer_error.message()));
  }
  return absl::NotFoundError(absl::StrCat(directory_, ": no checkpoint found"));
}

absl::StatusOr<int64_t> load_module_weights(nn::Module& module, const std::string& path,
                                            const std::string& group) {
  std::error_code ec;
  fs::path dir(path);
  if (!fs::exists(dir / kManifest, ec) && fs::exists(dir / "checkpoints", ec)) dir /= "checkpoints";
  absl::StatusOr<Checkpoint> checkpoint = fs::exists(dir / kManifest, ec)
                                              ? CheckpointManager::load(dir.string())
                                              : CheckpointManager(dir.string(), 1).load_latest();
  if (!checkpoint.ok()) return checkpoint.status();
  auto it = checkpoint->groups.find(group);
  if (it == checkpoint->groups.end()) {
    return absl::NotFoundError(absl::StrCat(path, ": the checkpoint has no ", group, " weights"));
  }
  absl::Status loaded =
      module.load_state_dict(std::map<std::string, Tensor>(it->second.begin(), it->second.end()));
  if (!loaded.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", loaded.message()));
  return checkpoint->step;
}

}  // namespace kiln::train
