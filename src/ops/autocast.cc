#include "kiln/ops/autocast.h"

namespace kiln {
namespace {

thread_local std::optional<DType> current_autocast;

}  // namespace

AutocastScope::AutocastScope(std::optional<DType> dtype) : previous_(current_autocast) {
  current_autocast = dtype;
}

AutocastScope::~AutocastScope() { current_autocast = previous_; }

std::optional<DType> autocast_dtype() { return current_autocast; }

}  // namespace kiln
