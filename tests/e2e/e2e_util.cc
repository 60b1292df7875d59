#include "tests/e2e/e2e_util.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace kiln::testing {

namespace fs = std::filesystem;

train::Json tiny_config(const fs::path& output_dir) {
  return {
      {"model", {{"name", "convnet"}, {"channels", {8}}, {"hidden", 16}}},
      {"data",
       {{"name", "synthetic_images"},
        {"image_shape", {8, 8, 1}},
        {"num_classes", 4},
        {"num_examples", 256},
        {"batch_size", 16}}},
      {"optimizer", {{"name", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"nesterov", true}}},
      {"train",
       {{"steps", 30}, {"seed", 7}, {"log_every", 1}, {"threads", 2}, {"checkpoint_every", 10}}},
      {"output_dir", output_dir.string()},
  };
}

std::string write_config(const fs::path& dir, const std::string& name, const train::Json& config) {
  const fs::path path = dir / name;
  std::ofstream(path) << config.dump(2);
  return path.string();
}

std::map<int64_t, double> read_losses(const fs::path& run_dir) {
  std::map<int64_t, double> losses;
  std::ifstream in(run_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const train::Json record = train::Json::parse(line);
    if (record.contains("loss") && record.contains("applied")) {
      losses[record["step"].get<int64_t>()] = record["loss"].get<double>();
    }
  }
  return losses;
}

CommandResult run_kiln(const std::vector<std::string>& args) {
  std::string command = KILN_CLI_PATH;
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  absl::StrAppend(&command, " 2>&1");
  CommandResult result;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace kiln::testing
