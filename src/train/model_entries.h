// The model families' registry entries, one function per family (defined
// next to the family's config parsing in src/train/models/). The registry
// table in model_registry.cc lists them all, explicitly.
#pragma once

#include <vector>

#include "kiln/models/nfnet/nfnet.h"
#include "kiln/models/transformer/transformer.h"
#include "kiln/train/model_registry.h"

namespace kiln::train {

// The families' option readers, for models built from other families'
// parts (Flamingo). Keys override `base`; "variant" / "preset" replace it.
models::NFNetOptions read_nfnet_options(ObjectReader& r, const ModelContext& c,
                                        const models::NFNetOptions& base);
models::TransformerOptions read_transformer_options(ObjectReader& r, const ModelContext& c,
                                                    bool causal,
                                                    const models::TransformerOptions& base);

std::vector<ModelEntry> simple_model_entries();
std::vector<ModelEntry> nfnet_model_entries();
std::vector<ModelEntry> transformer_model_entries();
std::vector<ModelEntry> perceiver_model_entries();
std::vector<ModelEntry> flamingo_model_entries();
std::vector<ModelEntry> slowfast_nfnet_model_entries();
std::vector<ModelEntry> dgmr_model_entries();

}  // namespace kiln::train
