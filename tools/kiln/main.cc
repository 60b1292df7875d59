// The kiln command line: train, eval, info (and more as they land).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tools/kiln/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: kiln COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  train CONFIG [--set a.b=value ...] [--resume RUN_DIR]\n"
    "                     train from a JSON config (or continue a run)\n"
    "  eval CONFIG --checkpoint PATH [--set ...] [--ema]\n"
    "                     evaluate a checkpoint on the held-out split\n"
    "  info CONFIG [--set ...] [--json]\n"
    "                     parameters per module and forward FLOPs per example\n"
    "  sweep ABLATION [--set ...] [--only TEXT]\n"
    "                     run a config under a grid of overrides; tabulate and plot\n"
    "  bench CONFIG [--set ...] [--json] | bench --ops\n"
    "                     time training steps (benchmarks.md's rule)\n"
    "  rankcollapse CONFIG|ABLATION [--set ...] [--batches N]\n"
    "                     token-similarity per layer of a transformer at init\n"
    "  curves ABLATION [--metrics loss,...]\n"
    "                     training curves and final/min/max of a sweep's points\n"
    "  fewshot CONFIG --checkpoint PATH [--shots 0,1,2,4,8]\n"
    "                     Flamingo's few-shot classification accuracy by shots\n"
    "  linear-eval CONFIG --checkpoint PATH|init --tasks [DOMAIN:]TASK,... [--bench DIR]\n"
    "                     linear evaluation of a frozen encoder per task and domain\n"
    "  needle CONFIG --checkpoint PATH [--lengths ...] [--depths ...]\n"
    "                     needle-in-a-haystack retrieval of a language model\n"
    "  spp CONFIG|SPP_FILE [--set ...] [--vary 'k=[a,b]'] [--gaussian] [--output DIR]\n"
    "                     signal propagation plots of an NF model at initialisation\n"
    "  audio-bench generate --out DIR [--per-class N] [--seed S]\n"
    "                     generate the small HARES-like audio benchmark\n"
    "  nowcast CONFIG [--set ...] [--batches N] [--png FILE] [--json]\n"
    "                     CSI, CRPS and PSD of nowcast baselines on held-out radar data\n"
    "  radar-export CONFIG --out FILE.npy [--count N]\n"
    "                     write a radar dataset's sequences as an npy file\n"
    "\n"
    "Run 'kiln COMMAND --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"train", kiln::cli::train_command},
      {"eval", kiln::cli::eval_command},
      {"info", kiln::cli::info_command},
      {"sweep", kiln::cli::sweep_command},
      {"bench", kiln::cli::bench_command},
      {"rankcollapse", kiln::cli::rankcollapse_command},
      {"curves", kiln::cli::curves_command},
      {"needle", kiln::cli::needle_command},
      {"spp", kiln::cli::spp_command},
      {"fewshot", kiln::cli::fewshot_command},
      {"audio-bench", kiln::cli::audio_bench_command},
      {"nowcast", kiln::cli::nowcast_command},
      {"radar-export", kiln::cli::radar_export_command},
      {"linear-eval", kiln::cli::linear_eval_command},
  };
  auto it = commands.find(command);
  if (it == commands.end()) {
    std::fprintf(stderr, "kiln: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  }
  return it->second(args);
}
