#include <algorithm>
#include <cstdio>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

bool Args::has_flag(const std::string& name) const {
  return std::find(flags.begin(), flags.end(), name) != flags.end();
}

std::optional<std::string> Args::option(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Args> parse_args(const std::vector<std::string>& args,
                                const std::vector<std::string>& with_value,
                                const std::vector<std::string>& flags) {
  Args out;
  auto known = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out.help = true;
    } else if (a == "--set") {
      if (i + 1 == args.size()) return absl::InvalidArgumentError("--set needs key.path=value");
      out.sets.push_back(args[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      out.sets.push_back(a.substr(6));
    } else if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::string value;
      const size_t eq = name.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (known(with_value, name)) {
        if (!inline_value) {
          if (i + 1 == args.size())
            return absl::InvalidArgumentError(absl::StrCat(a, " needs a value"));
          value = args[++i];
        }
        out.options[name] = value;
      } else if (known(flags, name) && !inline_value) {
        out.flags.push_back(name);
      } else {
        return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
      }
    } else {
      out.positional.push_back(a);
    }
  }
  return out;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "kiln: %s\n", message.c_str());
  return 1;
}

std::optional<Args> parse_command(const std::vector<std::string>& args, const char* help,
                                  const std::vector<std::string>& with_value,
                                  const std::vector<std::string>& flags, int& exit_code) {
  absl::StatusOr<Args> parsed = parse_args(args, with_value, flags);
  if (!parsed.ok()) {
    exit_code = fail(std::string(parsed.status().message()));
    return std::nullopt;
  }
  if (parsed->help) {
    std::fputs(help, stdout);
    exit_code = 0;
    return std::nullopt;
  }
  return *std::move(parsed);
}

int usage(const char* help) {
  std::fputs(help, stderr);
  return 2;
}

std::optional<std::vector<double>> parse_numbers(const std::string& text) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    try {
      size_t used = 0;
      const std::string s(part);
      out.push_back(std::stod(s, &used));
      if (used != s.size()) return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<int64_t> parse_int(const std::optional<std::string>& text, int64_t fallback) {
  if (!text) return fallback;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(*text, &used);
    if (used != text->size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace kiln::cli
