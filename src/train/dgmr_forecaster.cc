// A trained DGMR generator as a nowcast forecaster (kiln nowcast
// --checkpoint, a sweep's "nowcast" evaluation).
#include "absl/strings/str_cat.h"
#include "kiln/autograd/grad_mode.h"
#include "kiln/core/error.h"
#include "kiln/models/dgmr/dgmr.h"
#include "kiln/ops/shape.h"
#include "kiln/train/nowcast.h"
#include "src/train/builders.h"

namespace kiln::train {

absl::StatusOr<Forecaster> dgmr_forecaster(const ExperimentConfig& config,
                                           const std::string& weights) {
  absl::StatusOr<TrainedModel> trained =
      load_trained_model(config, data_signature(config.data), weights);
  if (!trained.ok()) return trained.status();
  std::shared_ptr<models::dgmr::Dgmr> dgmr =
      std::dynamic_pointer_cast<models::dgmr::Dgmr>(trained->model);
  if (dgmr == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(config.file, ": key model.name is \"",
                                                   config.model.name, "\"; expected a DGMR model"));
  }
  return ensemble_forecaster([dgmr](const Tensor& context, int64_t lead_frames, Generator& gen) {
    const models::dgmr::DgmrOptions& o = dgmr->options();
    KILN_CHECK(lead_frames == o.lead_frames && context.size(1) == o.context_frames, "dgmr: the ",
               "model maps ", o.context_frames, " context frames to ", o.lead_frames,
               " lead frames; asked for ", context.size(1), " -> ", lead_frames);
    NoGradGuard no_grad;
    const Tensor z = dgmr->generator().sample_latent(context.size(0), context.size(2),
                                                     context.size(3), gen);  // (B, h, w, Z)
    return as_contiguous(dgmr->generator().forward(context, z));             // (B, Tl, H, W, 1)
  });
}

}  // namespace kiln::train
