// The kiln subcommands. Each returns the process exit code: 0 on success, 1
// on a failure with a one-line error on stderr, 2 on bad usage.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/train/experiment_config.h"

namespace kiln::cli {

int train_command(const std::vector<std::string>& args);
int eval_command(const std::vector<std::string>& args);
int info_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int rankcollapse_command(const std::vector<std::string>& args);  // lm_commands.cc
int curves_command(const std::vector<std::string>& args);        // lm_commands.cc
int needle_command(const std::vector<std::string>& args);        // lm_commands.cc
int spp_command(const std::vector<std::string>& args);
int fewshot_command(const std::vector<std::string>& args);
int audio_bench_command(const std::vector<std::string>& args);
int nowcast_command(const std::vector<std::string>& args);       // nowcast_command.cc
int radar_export_command(const std::vector<std::string>& args);  // nowcast_command.cc
int linear_eval_command(const std::vector<std::string>& args);

// Parsed arguments: positionals, repeated "--set k=v", "--flag value"
// options and bare flags.
struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> sets;
  std::map<std::string, std::string> options;  // --name value
  std::vector<std::string> flags;              // --name
  bool help = false;
  bool has_flag(const std::string& name) const;
  std::optional<std::string> option(const std::string& name) const;
};

// `with_value` lists the options that take a value; `flags` the bare ones.
// Unknown options are an error.
absl::StatusOr<Args> parse_args(const std::vector<std::string>& args,
                                const std::vector<std::string>& with_value,
                                const std::vector<std::string>& flags);

// parse_args for a command whose help text is `help`: --help prints it to
// stdout and a parse error prints "kiln: <error>" to stderr; both return
// nullopt with `exit_code` set to what the command returns (0 and 1).
std::optional<Args> parse_command(const std::vector<std::string>& args, const char* help,
                                  const std::vector<std::string>& with_value,
                                  const std::vector<std::string>& flags, int& exit_code);

// Bad usage: prints `help` to stderr and returns 2.
int usage(const char* help);

// "1,2.5,4" -> numbers; nullopt if any part is not a number or none is given.
std::optional<std::vector<double>> parse_numbers(const std::string& text);
// An integer option: `fallback` when absent, nullopt when not an integer.
std::optional<int64_t> parse_int(const std::optional<std::string>& text, int64_t fallback);

// Prints "kiln: <message>" to stderr and returns 1.
int fail(const std::string& message);

}  // namespace kiln::cli
