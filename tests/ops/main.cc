// Registers one GoogleTest per op sample (Gradcheck.<op>/<variant>) and the
// coverage test over src/ops/op_list.def.
#include <gtest/gtest.h>

#include <set>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

class GradcheckTest : public ::testing::Test {
 public:
  explicit GradcheckTest(const OpSample* sample) : sample_(sample) {}
  void TestBody() override {
    const std::string failure = run_gradcheck(*sample_);
    EXPECT_EQ(failure, "") << "op " << sample_->op << " (" << sample_->variant << ")";
  }

 private:
  const OpSample* sample_;
};

TEST(OpCoverage, EveryOpInTheListHasASample) {
  std::set<std::string> gradchecked, forward;
  for (const OpSample& s : op_samples()) gradchecked.insert(s.op);
  for (const std::string& op : forward_sampled_ops()) forward.insert(op);
  for (const OpInfo& op : all_ops()) {
    const std::string name(op.name);
    if (op.kind == OpKind::kNonDiff) {
      EXPECT_TRUE(forward.count(name) || gradchecked.count(name))
          << "nondiff op " << name << " has no KILN_FORWARD_SAMPLE";
    } else {
      EXPECT_TRUE(gradchecked.count(name)) << "op " << name << " has no KILN_OP_SAMPLE";
    }
  }
}

TEST(OpCoverage, EverySampleNamesAnOpInTheList) {
  for (const OpSample& s : op_samples()) {
    EXPECT_NE(find_op(s.op), nullptr) << "sample for unknown op " << s.op;
  }
  for (const std::string& op : forward_sampled_ops()) {
    EXPECT_NE(find_op(op), nullptr) << "forward sample for unknown op " << op;
  }
}

}  // namespace
}  // namespace kiln::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (const kiln::testing::OpSample& sample : kiln::testing::op_samples()) {
    std::string name = sample.op + "/" + sample.variant;
    ::testing::RegisterTest(
        "Gradcheck", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
        [&sample]() -> ::testing::Test* { return new kiln::testing::GradcheckTest(&sample); });
  }
  return RUN_ALL_TESTS();
}
