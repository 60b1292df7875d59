// Data-parallel training across processes: the Communicator interface the
// trainer talks to (rank, world size, broadcast from rank 0, allreduce,
// barrier), its single-process implementation, and GradientSync, which
// averages gradients across ranks in fused buckets while backward runs.
//
// The MPI implementation (src/train/mpi_communicator.cc, built when CMake
// finds MPI: option KILN_WITH_MPI) is what `mpirun -np N kiln train CONFIG`
// uses; this header never includes mpi.h. Every collective of the MPI
// communicator has a timeout: one that does not complete in time (a rank
// died, hangs or was stopped) prints which collective stalled and aborts the
// whole job instead of hanging. See docs/distributed.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "kiln/autograd/hooks.h"
#include "kiln/nn/module.h"
#include "kiln/tensor/tensor.h"

namespace kiln::train {

// A collective started without waiting for it.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // Makes progress; true once complete.
  virtual bool test() = 0;
  // Blocks until complete (under the communicator's timeout).
  virtual void wait() = 0;
};

// The processes of one data-parallel job. All ranks must issue the same
// collectives in the same order with the same sizes. `what` names a
// collective in the timeout message.
class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  bool is_root() const { return rank() == 0; }

  // Overwrites `tensor` (contiguous; the same shape and dtype on every rank)
  // with rank 0's values.
  virtual void broadcast(const Tensor& tensor, std::string_view what) = 0;
  // Rank 0's `text` on every rank.
  virtual void broadcast(std::string& text, std::string_view what) = 0;
  // Starts replacing `buffer` (contiguous f32 or f64, the same size on every
  // rank) by its mean over the ranks. The buffer must stay alive and
  // untouched until the collective completes.
  virtual std::unique_ptr<PendingCollective> start_allreduce_mean(const Tensor& buffer,
                                                                  std::string what) = 0;
  // Sums `values` over the ranks, in place.
  virtual void allreduce_sum(std::vector<double>& values, std::string_view what) = 0;
  virtual void barrier(std::string_view what) = 0;
  // Prints `message` to stderr and ends every rank of the job with
  // `exit_code`: for a failure the other ranks cannot learn of otherwise.
  [[noreturn]] virtual void abort(const std::string& message, int exit_code) = 0;
};

// One process: rank 0 of 1; collectives return at once.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void broadcast(const Tensor&, std::string_view) override {}
  void broadcast(std::string&, std::string_view) override {}
  std::unique_ptr<PendingCollective> start_allreduce_mean(const Tensor& buffer,
                                                          std::string what) override;
  void allreduce_sum(std::vector<double>&, std::string_view) override {}
  void barrier(std::string_view) override {}
  [[noreturn]] void abort(const std::string& message, int exit_code) override;
};

struct CommunicatorOptions {
  // A collective still incomplete after this long ends the job.
  double timeout_seconds = 600;
};

// True if this kiln was built with MPI.
bool built_with_mpi();

// This process's communicator: MPI's world when the process was started by
// an MPI launcher (mpirun, mpiexec) and kiln was built with MPI, else a
// single process. An error if an MPI launcher started several processes but
// kiln was built without MPI (each would train alone into the same run
// directory). MPI is initialised here and finalised when the communicator
// is destroyed; create at most one.
absl::StatusOr<std::unique_ptr<Communicator>> make_world_communicator(
    const CommunicatorOptions& options = {});

// A failure every rank of the job knows of (the trainer agrees on setup
// errors), so each rank may simply exit; any other error in a data-parallel
// run can leave the other ranks waiting in a collective, and the job must
// be ended with Communicator::abort.
absl::Status agreed_failure(absl::Status status);
bool is_agreed_failure(const absl::Status& status);

struct GradientSyncOptions {
  // Gradients are sent in buckets of about this many bytes (one parameter
  // larger than that gets a bucket of its own).
  int64_t bucket_bytes = 25 << 20;
};

// Averages the gradients of a fixed set of parameters across ranks. The
// parameters (those that require grad; f32 or f64) are packed into buckets
// in reverse order, since backward produces the last layers' gradients
// first. A post-accumulate hook on each parameter notes when its gradient
// is complete; a bucket whose parameters are all complete starts its
// allreduce at once, in bucket order on every rank, so communication
// overlaps the rest of backward. synchronize() sends the remaining buckets,
// waits for all, and writes the means back into the gradients.
//
// A parameter that got no gradient on this rank counts as a zero gradient
// in the mean (its grad() is then defined from the others'); one that got
// no gradient on any rank keeps an undefined grad(), as in one process. The
// mean of the ranks' gradients of their local mean losses is the gradient
// of the global mean loss when the ranks' shards have equal sizes.
class GradientSync {
 public:
  GradientSync(Communicator& communicator, const nn::NamedTensors& params,
               const GradientSyncOptions& options = {});
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Call once after each backward pass, before the optimizer step; every
  // rank must call it equally often. Afterwards every rank holds the same
  // gradients.
  void synchronize();
  // True if a backward pass produced gradients since the last synchronize().
  bool pending() const;

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // The parameter names of bucket `i`, in packing order.
  std::vector<std::string> bucket_names(int64_t i) const;
  // How many buckets the last synchronize() found already sent during
  // backward (the overlap).
  int64_t buckets_started_early() const { return started_early_; }

 private:
  struct Slot {
    std::string name;
    Tensor param;
    int64_t bucket = 0;
    int64_t offset = 0;  // in the bucket's buffer, in elements
    bool ready = false;
  };
  struct Bucket {
    std::vector<int64_t> slots;
    Tensor buffer;  // gradients, then one flag per slot (1: this rank had a gradient)
    int64_t ready = 0;
    std::unique_ptr<PendingCollective> pending;
  };

  void on_gradient(int64_t slot);
  void start(int64_t bucket);
  void start_ready_buckets();

  Communicator& communicator_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<autograd::PostAccumulateGradHookHandle> hooks_;
  int64_t next_bucket_ = 0;  // buckets [0, next_bucket_) have started
  int64_t early_ = 0;        // buckets sent during the current backward pass
  int64_t started_early_ = 0;
  bool in_synchronize_ = false;
};

}  // namespace kiln::train
