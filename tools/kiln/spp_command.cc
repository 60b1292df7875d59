#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kiln/train/spp.h"
#include "tools/kiln/commands.h"

namespace kiln::cli {

namespace {
constexpr char kHelp[] =
    "usage: kiln spp CONFIG [--set a.b=value ...] [--vary 'key.path=[v1, v2]']\n"
    "                [--gaussian] [--batch N] [--output DIR]\n"
    "       kiln spp SPP_FILE [--set a.b=value ...] [--gaussian] [--batch N] [--output DIR]\n"
    "\n"
    "Signal propagation plots (2101.08692) of an NFNet-family model at\n"
    "initialisation: one forward pass on one batch records, per residual block,\n"
    "the average channel squared mean and variance of the block output and the\n"
    "average channel variance of the residual branch (statistics over N, H, W\n"
    "per channel, averaged over channels), next to the variance the alpha/beta\n"
    "bookkeeping predicts. Writes spp.csv and spp.svg to DIR (default\n"
    "runs/spp/<config name>, or the SPP file's output_dir).\n"
    "\n"
    "CONFIG is an experiment config; --set overrides it, and --vary draws one\n"
    "curve per value of one key (a JSON list) on the same batch. The batch is\n"
    "the first held-out batch of the config's data (N = --batch, default 64),\n"
    "or N(0, 1) pixels of the data's image shape with --gaussian.\n"
    "An SPP file (a JSON object with \"variants\"; see include/kiln/train/spp.h\n"
    "and configs/ablations/spp_nf_resnet.json) lists the variants itself;\n"
    "--set then overrides keys of that file.\n";

}  // namespace

int spp_command(const std::vector<std::string>& argv) {
  int exit_code = 0;
  const std::optional<Args> args =
      parse_command(argv, kHelp, {"vary", "batch", "output"}, {"gaussian"}, exit_code);
  if (!args) return exit_code;
  if (args->positional.size() != 1) return usage(kHelp);
  const std::string& path = args->positional[0];
  train::SppSpec spec;
  if (train::is_spp_file(path)) {
    if (args->option("vary"))
      return fail("--vary is for experiment configs; list variants in " + path);
    absl::StatusOr<train::SppSpec> loaded = train::load_spp(path, args->sets);
    if (!loaded.ok()) return fail(std::string(loaded.status().message()));
    spec = *loaded;
  } else {
    spec.file = path;
    spec.base = path;
    spec.sets = args->sets;
    spec.input.source = "data";
    spec.output_dir =
        (std::filesystem::path("runs/spp") / std::filesystem::path(path).stem()).string();
    if (std::optional<std::string> vary = args->option("vary")) {
      const size_t eq = vary->find('=');
      absl::StatusOr<train::Json> values = eq == std::string::npos
                                               ? absl::InvalidArgumentError("")
                                               : train::parse_json(vary->substr(eq + 1), "--vary");
      if (!values.ok() || !values->is_array() || values->empty()) {
        return fail("--vary needs key.path=[value, ...] (a JSON list), got '" + *vary + "'");
      }
      const std::string key = vary->substr(0, eq);
      for (const train::Json& v : *values) {
        const std::string value = v.is_string() ? v.get<std::string>() : v.dump();
        spec.variants.push_back(
            {absl::StrCat(key, "=", value), {absl::StrCat(key, "=", v.dump())}});
      }
    } else {
      spec.variants.push_back({std::filesystem::path(path).stem().string(), {}});
    }
  }
  if (args->has_flag("gaussian")) spec.input.source = "gaussian";
  if (std::optional<std::string> batch = args->option("batch")) {
    try {
      spec.input.batch_size = std::stoll(*batch);
    } catch (const std::exception&) {
      spec.input.batch_size = 0;
    }
    if (spec.input.batch_size < 1) return fail("--batch needs a positive integer, got " + *batch);
  }
  if (std::optional<std::string> output = args->option("output")) spec.output_dir = *output;
  absl::StatusOr<std::vector<train::SppRow>> rows = train::run_spp(spec);
  if (!rows.ok()) return fail(std::string(rows.status().message()));
  return 0;
}

}  // namespace kiln::cli
