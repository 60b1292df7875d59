#include "kiln/ops/registry.h"

namespace kiln {
namespace {

constexpr OpKind kind_of_composite = OpKind::kComposite;
constexpr OpKind kind_of_primitive = OpKind::kPrimitive;
constexpr OpKind kind_of_kernel = OpKind::kKernel;
constexpr OpKind kind_of_nondiff = OpKind::kNonDiff;

constexpr OpInfo kOps[] = {
#define KILN_OP(name, family, kind) {#name, #family, kind_of_##kind},
#include "src/ops/op_list.def"
#undef KILN_OP
};

}  // namespace

absl::Span<const OpInfo> all_ops() { return kOps; }

const OpInfo* find_op(std::string_view name) {
  for (const OpInfo& op : kOps) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

std::string_view op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kComposite:
      return "composite";
    case OpKind::kPrimitive:
      return "primitive";
    case OpKind::kKernel:
      return "kernel";
    case OpKind::kNonDiff:
      return "nondiff";
  }
  return "?";
}

}  // namespace kiln
