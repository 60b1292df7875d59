// kiln radar-export then kiln nowcast on the exported file: the npy format
// round-trips through the CLI, the tables, JSON and picture come out, and
// bad input fails with one clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/e2e/e2e_util.h"

namespace kiln::testing {
namespace {

namespace fs = std::filesystem;

train::Json radar_config(const std::string& name) {
  return train::Json::parse(R"({"model": {"name": "dgmr"}, "data": {"name": ")" + name +
                            R"(", "batch_size": 2, "num_examples": 16, "eval_fraction": 0.5,
      "radar": {"height": 24, "width": 24, "context_frames": 3, "lead_frames": 4}}})");
}

TEST(NowcastCli, ExportThenScore) {
  TempDir dir;
  const std::string synthetic =
      write_config(dir.path(), "synthetic.json", radar_config("radar_synthetic"));
  const std::string npy = (dir.path() / "radar.npy").string();
  CommandResult exported = run_kiln({"radar-export", synthetic, "--out", npy, "--count", "4"});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("wrote 4 sequences (7, 24, 24, 1)"), std::string::npos)
      << exported.output;

  train::Json from_file = radar_config("radar_npy");
  from_file["data"]["path"] = npy;
  const std::string config = write_config(dir.path(), "npy.json", from_file);
  const std::string png = (dir.path() / "nowcast.png").string();
  CommandResult scored = run_kiln({"nowcast", config, "--png", png});
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_NE(scored.output.find("2 held-out examples"), std::string::npos) << scored.output;
  EXPECT_NE(scored.output.find("CSI >= 8 mm/h"), std::string::npos) << scored.output;
  EXPECT_NE(scored.output.find("\"name\":\"advection\""), std::string::npos) << scored.output;
  EXPECT_GT(fs::file_size(png), 100u);

  CommandResult missing = run_kiln({"nowcast", config, "--set", "data.path=/nonexistent/r.npy"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/r.npy"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace kiln::testing
