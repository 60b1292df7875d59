// The model families' registry entries, one function per family (defined
// next to the family's config parsing in src/train/models/). The registry
// table in model_registry.cc lists them all, explicitly.
#pragma once

#include <vector>

#include "kiln/train/model_registry.h"

namespace kiln::train {

std::vector<ModelEntry> simple_model_entries();
std::vector<ModelEntry> nfnet_model_entries();
std::vector<ModelEntry> transformer_model_entries();
std::vector<ModelEntry> perceiver_model_entries();

}  // namespace kiln::train
