// The MPI communicator (compiled only when kiln is built with MPI).
#pragma once

#include <memory>

#include "kiln/train/distributed.h"

namespace kiln::train {

// Initialises MPI (MPI_THREAD_FUNNELED: only the thread that trains calls
// MPI) and returns MPI_COMM_WORLD's communicator; MPI is finalised when it
// is destroyed. Every collective is non-blocking underneath and polled
// until done or until options.timeout_seconds pass, when the rank prints
// which collective stalled and aborts the job (MPI_Abort).
std::unique_ptr<Communicator> make_mpi_communicator(const CommunicatorOptions& options);

}  // namespace kiln::train
