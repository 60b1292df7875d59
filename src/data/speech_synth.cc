#include "kiln/data/speech_synth.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace kiln::data {
namespace {

// Removes the file it names when it goes out of scope.
struct TempFile {
  std::string path;
  ~TempFile() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove(path, ec);
  }
};

}  // namespace

bool program_on_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path == nullptr ? "" : path, ':')) {
    if (!dir.empty() && access(absl::StrCat(dir, "/", program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

absl::StatusOr<Waveform> speak(const std::string& text, const SpeakOptions& options,
                               int64_t sample_rate, const std::string& scratch_dir) {
  if (!program_on_path(options.program)) {
    return absl::NotFoundError(absl::StrCat(
        options.program, " not found on PATH: the speech clips need it (Debian package ",
        "espeak-ng; scripts/setup.sh installs it)"));
  }
  std::string pattern = (std::filesystem::path(scratch_dir) / "kiln_speak_XXXXXX.wav").string();
  const int fd = mkstemps(pattern.data(), 4);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(scratch_dir, ": cannot create a temporary WAV for ", options.program));
  }
  close(fd);
  const TempFile wav{pattern};
  const std::vector<std::string> args = {options.program,
                                         "-w",
                                         wav.path,
                                         "-v",
                                         options.voice,
                                         "-s",
                                         std::to_string(options.speed),
                                         "-p",
                                         std::to_string(options.pitch),
                                         "--",
                                         text};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // espeak-ng's own messages (an unknown voice) go to stderr, left as is;
  // stdout carries nothing with -w.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err =
      posix_spawnp(&pid, options.program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  const std::string command = absl::StrJoin(args, " ");
  if (err != 0) {
    return absl::NotFoundError(absl::StrCat("cannot run '", command, "': ", std::strerror(err)));
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("'", command, "' failed (exit status ",
                                            WIFEXITED(status) ? WEXITSTATUS(status) : -1, ")"));
  }
  absl::StatusOr<Waveform> audio = read_audio(wav.path);
  if (!audio.ok()) {
    return absl::InternalError(
        absl::StrCat("'", command, "' wrote no readable audio: ", audio.status().message()));
  }
  if (audio->samples.numel() == 0) {
    return absl::InternalError(absl::StrCat("'", command, "' wrote an empty WAV"));
  }
  return resample(*audio, sample_rate);
}

}  // namespace kiln::data
