#include "kiln/train/distributed.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/autograd/grad_mode.h"
#include "src/train/mpi_communicator.h"

namespace kiln::train {
namespace {

class DonePending final : public PendingCollective {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// The world size an MPI launcher announced to this process: 0 if it was not
// started by one. The one place kiln reads the launcher's environment.
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      return std::max(1, std::atoi(value));
    }
  }
  // PMIx (OpenMPI 5, prterun) announces the rank; the size comes from MPI.
  return std::getenv("PMIX_RANK") != nullptr ? 1 : 0;
}

}  // namespace

std::unique_ptr<PendingCollective> SingleProcessCommunicator::start_allreduce_mean(
    const Tensor& buffer, std::string /*what*/) {
  KILN_CHECK(
      buffer.is_contiguous() && (buffer.dtype() == DType::kF32 || buffer.dtype() == DType::kF64),
      "allreduce_mean: the buffer must be contiguous f32 or f64, got ", dtype_name(buffer.dtype()));
  return std::make_unique<DonePending>();
}

void SingleProcessCommunicator::abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "kiln: %s\n", message.c_str());
  std::fflush(stderr);
  std::exit(exit_code);
}

bool built_with_mpi() {
#ifdef KILN_WITH_MPI
  return true;
#else
  return false;
#endif
}

absl::StatusOr<std::unique_ptr<Communicator>> make_world_communicator(
    const CommunicatorOptions& options) {
  if (!(options.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the collective timeout must be > 0 seconds, got ", options.timeout_seconds));
  }
  const int launched = launcher_world_size();
#ifdef KILN_WITH_MPI
  if (launched > 0) return make_mpi_communicator(options);
#else
  if (launched > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("started by an MPI launcher as one of ", launched,
                     " processes, but this kiln was built without MPI; install libopenmpi-dev "
                     "(scripts/setup.sh) and rebuild, or run a single process"));
  }
#endif
  return std::unique_ptr<Communicator>(std::make_unique<SingleProcessCommunicator>());
}

namespace {
constexpr char kAgreedFailure[] = "type.kiln/agreed_failure";
}  // namespace

absl::Status agreed_failure(absl::Status status) {
  if (!status.ok()) status.SetPayload(kAgreedFailure, absl::Cord("1"));
  return status;
}

bool is_agreed_failure(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kAgreedFailure).has_value();
}

GradientSync::GradientSync(Communicator& communicator, const nn::NamedTensors& params,
                           const GradientSyncOptions& options)
    : communicator_(communicator) {
  KILN_CHECK(options.bucket_bytes > 0, "GradientSync: bucket_bytes must be > 0, got ",
             options.bucket_bytes);
  // Reverse order: backward completes the last layers' gradients first. A
  // tensor registered under two names (tied weights) is sent once.
  std::unordered_set<const TensorImpl*> seen;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const auto& [name, param] = *it;
    if (!param.requires_grad() || !seen.insert(&param.impl()).second) continue;
    KILN_CHECK(param.dtype() == DType::kF32 || param.dtype() == DType::kF64,
               "GradientSync: parameter ", name, " has dtype ", dtype_name(param.dtype()),
               "; gradients are averaged in f32 or f64");
    slots_.push_back({.name = name, .param = param});
  }
  // Pack: a bucket holds one dtype and closes when the next parameter would
  // take it past bucket_bytes.
  std::vector<int64_t> sizes;  // elements per bucket
  int64_t bytes = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(slots_.size()); ++i) {
    const Tensor& p = slots_[i].param;
    const bool fits = !buckets_.empty() &&
                      slots_[buckets_.back().slots.front()].param.dtype() == p.dtype() &&
                      bytes + p.nbytes() <= options.bucket_bytes;
    if (!fits) {
      buckets_.emplace_back();
      sizes.push_back(0);
      bytes = 0;
    }
    slots_[i].bucket = static_cast<int64_t>(buckets_.size()) - 1;
    slots_[i].offset = sizes.back();
    sizes.back() += p.numel();
    bytes += p.nbytes();
    buckets_.back().slots.push_back(i);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const int64_t flags = static_cast<int64_t>(buckets_[b].slots.size());
    buckets_[b].buffer =
        Tensor::empty({sizes[b] + flags}, slots_[buckets_[b].slots[0]].param.dtype());
  }
  for (int64_t i = 0; i < static_cast<int64_t>(slots_.size()); ++i) {
    hooks_.push_back(autograd::register_post_accumulate_grad_hook(
        slots_[i].param, [this, i](const Tensor&) { on_gradient(i); }));
  }
}

GradientSync::~GradientSync() = default;

std::vector<std::string> GradientSync::bucket_names(int64_t i) const {
  std::vector<std::string> names;
  for (int64_t s : buckets_.at(i).slots) names.push_back(slots_[s].name);
  return names;
}

bool GradientSync::pending() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.ready; });
}

void GradientSync::on_gradient(int64_t index) {
  Slot& slot = slots_[index];
  Bucket& bucket = buckets_[slot.bucket];
  // A second backward pass before synchronize() (gradient accumulation)
  // only adds to grad(), unless the bucket already went out with the old sum.
  KILN_CHECK(bucket.pending == nullptr, "GradientSync: the gradient of ", slot.name,
             " changed after its bucket was sent; call synchronize() after each backward pass");
  if (slot.ready) return;
  slot.ready = true;
  ++bucket.ready;
  start_ready_buckets();
  // Let the buckets in flight progress (MPI progresses inside its calls).
  for (int64_t b = 0; b < next_bucket_; ++b) buckets_[b].pending->test();
}

void GradientSync::start_ready_buckets() {
  while (next_bucket_ < num_buckets() &&
         buckets_[next_bucket_].ready ==
             static_cast<int64_t>(buckets_[next_bucket_].slots.size())) {
    if (!in_synchronize_) ++early_;
    start(next_bucket_++);
  }
}

void GradientSync::start(int64_t index) {
  Bucket& bucket = buckets_[index];
  const int64_t flags_at = bucket.buffer.numel() - static_cast<int64_t>(bucket.slots.size());
  const int64_t elem = dtype_size(bucket.buffer.dtype());
  char* data = static_cast<char*>(bucket.buffer.raw_data());
  for (size_t k = 0; k < bucket.slots.size(); ++k) {
    const Slot& slot = slots_[bucket.slots[k]];
    const Tensor grad = slot.param.grad();
    const bool has = grad.defined();
    if (has) {
      KILN_CHECK(grad.shape() == slot.param.shape() && grad.dtype() == slot.param.dtype(),
                 "GradientSync: the gradient of ", slot.name, " has shape ",
                 shape_str(grad.shape()), " ", dtype_name(grad.dtype()), " for a parameter ",
                 shape_str(slot.param.shape()), " ", dtype_name(slot.param.dtype()));
      std::memcpy(data + slot.offset * elem, as_contiguous(grad).raw_data(),
                  static_cast<size_t>(grad.nbytes()));
    } else {
      std::memset(data + slot.offset * elem, 0, static_cast<size_t>(slot.param.nbytes()));
    }
    const int64_t flag_index = flags_at + static_cast<int64_t>(k);
    if (bucket.buffer.dtype() == DType::kF32) {
      bucket.buffer.data<float>()[flag_index] = has ? 1.0f : 0.0f;
    } else {
      bucket.buffer.data<double>()[flag_index] = has ? 1.0 : 0.0;
    }
  }
  bucket.pending = communicator_.start_allreduce_mean(
      bucket.buffer,
      absl::StrFormat("allreduce of gradient bucket %d of %d (%d parameters, %.1f MB)", index + 1,
                      num_buckets(), bucket.slots.size(),
                      static_cast<double>(bucket.buffer.nbytes()) / 1e6));
}

void GradientSync::synchronize() {
  NoGradGuard no_grad;
  // Buckets with parameters this rank got no gradient for go out now, in
  // the same order on every rank.
  started_early_ = early_;
  early_ = 0;
  in_synchronize_ = true;
  while (next_bucket_ < num_buckets()) start(next_bucket_++);
  in_synchronize_ = false;
  for (Bucket& bucket : buckets_) {
    bucket.pending->wait();
    const int64_t flags_at = bucket.buffer.numel() - static_cast<int64_t>(bucket.slots.size());
    for (size_t k = 0; k < bucket.slots.size(); ++k) {
      Slot& slot = slots_[bucket.slots[k]];
      const int64_t flag_index = flags_at + static_cast<int64_t>(k);
      const double flag = bucket.buffer.dtype() == DType::kF32
                              ? static_cast<double>(bucket.buffer.data<float>()[flag_index])
                              : bucket.buffer.data<double>()[flag_index];
      if (flag > 0) {
        const Tensor mean = make_view(bucket.buffer, slot.param.shape(),
                                      contiguous_strides(slot.param.shape()), slot.offset);
        Tensor grad = slot.param.grad();
        if (grad.defined()) {
          copy_into(grad, mean);
        } else {
          grad = Tensor::empty(slot.param.shape(), slot.param.dtype());
          copy_into(grad, mean);
          slot.param.set_grad(grad);
        }
      }
      slot.ready = false;
    }
    bucket.ready = 0;
    bucket.pending.reset();
  }
  next_bucket_ = 0;
}

}  // namespace kiln::train
