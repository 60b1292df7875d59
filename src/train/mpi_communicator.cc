// Communicator on MPI. MPI collectives have no timeouts, so each one is
// started non-blocking (MPI_Ibcast, MPI_Iallreduce, MPI_Ibarrier) and polled
// with MPI_Test: a collective that does not complete within the timeout
// means another rank died, hangs or was stopped, and this rank ends the job
// with MPI_Abort after saying which collective stalled.
#include "src/train/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln::train {
namespace {

using Clock = std::chrono::steady_clock;

// Elements per MPI call (counts are ints).
constexpr int64_t kMaxCount = INT_MAX / 2;

MPI_Datatype mpi_float_type(DType dtype) {
  KILN_CHECK(dtype == DType::kF32 || dtype == DType::kF64,
             "allreduce_mean: the buffer must be f32 or f64, got ", dtype_name(dtype));
  return dtype == DType::kF32 ? MPI_FLOAT : MPI_DOUBLE;
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommunicatorOptions& options) : options_(options) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
      KILN_CHECK(provided >= MPI_THREAD_FUNNELED,
                 "MPI: the library does not support MPI_THREAD_FUNNELED");
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    // Errors come back as codes, which check() turns into an abort with the
    // message (the default handler would abort without saying where).
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  ~MpiCommunicator() override {
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }

  void broadcast(const Tensor& tensor, std::string_view what) override {
    KILN_CHECK(tensor.is_contiguous(), "broadcast: the tensor must be contiguous");
    broadcast_bytes(static_cast<char*>(tensor.raw_data()), tensor.nbytes(), what);
  }

  void broadcast(std::string& text, std::string_view what) override {
    int64_t size = static_cast<int64_t>(text.size());
    broadcast_bytes(reinterpret_cast<char*>(&size), sizeof(size), what);
    text.resize(static_cast<size_t>(size));
    broadcast_bytes(text.data(), size, what);
  }

  std::unique_ptr<PendingCollective> start_allreduce_mean(const Tensor& buffer,
                                                          std::string what) override;

  void allreduce_sum(std::vector<double>& values, std::string_view what) override {
    KILN_CHECK(values.size() <= static_cast<size_t>(kMaxCount), "allreduce_sum: too many values");
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                         MPI_SUM, comm_, &request),
          what);
    wait(&request, what);
  }

  void barrier(std::string_view what) override {
    MPI_Request request;
    check(MPI_Ibarrier(comm_, &request), what);
    wait(&request, what);
  }

  [[noreturn]] void abort(const std::string& message, int exit_code) override {
    std::fprintf(stderr, "kiln: rank %d of %d: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    std::fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

  // True once `request` completed.
  bool test(MPI_Request* request, std::string_view what) {
    int done = 0;
    check(MPI_Test(request, &done, MPI_STATUS_IGNORE), what);
    return done != 0;
  }

  // Polls until `request` completes; aborts the job after the timeout.
  void wait(MPI_Request* request, std::string_view what) {
    const Clock::time_point start = Clock::now();
    const auto timeout = std::chrono::duration<double>(options_.timeout_seconds);
    for (int64_t polls = 0;; ++polls) {
      if (test(request, what)) return;
      if (Clock::now() - start > timeout) {
        abort(absl::StrFormat("%s did not complete within %g s (--collective-timeout): another "
                              "rank failed, was killed or stalled. Ending the job; the last "
                              "checkpoint is intact",
                              std::string(what), options_.timeout_seconds),
              3);
      }
      // Spin briefly for short collectives, then back off so a waiting rank
      // leaves the cores to the ranks still computing.
      if (polls < 64) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(polls, 1000)));
      }
    }
  }

  void check(int code, std::string_view what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    abort(absl::StrCat(std::string(what),
                       " failed: ", std::string(text, static_cast<size_t>(length))),
          3);
  }

 private:
  void broadcast_bytes(char* data, int64_t bytes, std::string_view what) {
    for (int64_t done = 0; done < bytes; done += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, bytes - done));
      MPI_Request request;
      check(MPI_Ibcast(data + done, count, MPI_BYTE, 0, comm_, &request), what);
      wait(&request, what);
    }
  }

  CommunicatorOptions options_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
};

// An allreduce (sum) in flight over one buffer; divides by the world size
// once complete.
class MpiPendingMean final : public PendingCollective {
 public:
  MpiPendingMean(MpiCommunicator& communicator, Tensor buffer, std::string what,
                 std::vector<MPI_Request> requests)
      : communicator_(communicator),
        buffer_(std::move(buffer)),
        what_(std::move(what)),
        requests_(std::move(requests)) {}

  ~MpiPendingMean() override {
    // A collective cannot be cancelled: finish it before its buffer goes.
    if (!done_) wait();
  }

  bool test() override {
    if (done_) return true;
    while (next_ < requests_.size() && communicator_.test(&requests_[next_], what_)) ++next_;
    if (next_ == requests_.size()) finish();
    return done_;
  }

  void wait() override {
    if (done_) return;
    for (; next_ < requests_.size(); ++next_) communicator_.wait(&requests_[next_], what_);
    finish();
  }

 private:
  void finish() {
    const double n = communicator_.world_size();
    const int64_t count = buffer_.numel();
    if (buffer_.dtype() == DType::kF32) {
      float* p = buffer_.data<float>();
      const float nf = static_cast<float>(n);
      for (int64_t i = 0; i < count; ++i) p[i] /= nf;
    } else {
      double* p = buffer_.data<double>();
      for (int64_t i = 0; i < count; ++i) p[i] /= n;
    }
    done_ = true;
  }

  MpiCommunicator& communicator_;
  Tensor buffer_;
  std::string what_;
  std::vector<MPI_Request> requests_;
  size_t next_ = 0;
  bool done_ = false;
};

std::unique_ptr<PendingCollective> MpiCommunicator::start_allreduce_mean(const Tensor& buffer,
                                                                         std::string what) {
  KILN_CHECK(buffer.is_contiguous(), "allreduce_mean: the buffer must be contiguous");
  const MPI_Datatype type = mpi_float_type(buffer.dtype());
  const int64_t elem = dtype_size(buffer.dtype());
  char* data = static_cast<char*>(buffer.raw_data());
  std::vector<MPI_Request> requests;
  for (int64_t done = 0; done < buffer.numel(); done += kMaxCount) {
    const int count = static_cast<int>(std::min(kMaxCount, buffer.numel() - done));
    requests.emplace_back();
    check(MPI_Iallreduce(MPI_IN_PLACE, data + done * elem, count, type, MPI_SUM, comm_,
                         &requests.back()),
          what);
  }
  return std::make_unique<MpiPendingMean>(*this, buffer, std::move(what), std::move(requests));
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const CommunicatorOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace kiln::train
