// The op registry, generated from src/ops/op_list.def: every op's name,
// family (its header) and kind.
#pragma once

#include <string_view>

#include "absl/types/span.h"

namespace kiln {

enum class OpKind { kComposite, kPrimitive, kKernel, kNonDiff };

struct OpInfo {
  std::string_view name;
  std::string_view family;
  OpKind kind;
};

absl::Span<const OpInfo> all_ops();
// nullptr if no op has this name.
const OpInfo* find_op(std::string_view name);
std::string_view op_kind_name(OpKind kind);

}  // namespace kiln
