// Peak memory and speed of attention forward + backward.
//
//   kiln_attention_memory [T ...]   peak RSS of one forward + backward at
//                                   B = 1, H = 1, Dh = 64, causal, each T in
//                                   a fresh process (default 4096 8192 16384
//                                   32768)
//   kiln_attention_memory --speed   GFLOP/s at B = 8, H = 8, T = 256, Dh = 64
//                                   causal, counting 4 B H T^2 Dh forward and
//                                   2.5x that backward (no causal halving),
//                                   per wall-clock second and per CPU second
//                                   (the latter is steadier on a busy machine)
//
// Memory-efficient attention keeps O(T) memory: the peak should grow
// linearly with T, far below one (T, T) f32 matrix (the last column).
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace {

// A /proc/self/status field in bytes ("VmHWM", "VmRSS"), or -1.
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

double mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

struct Run {
  double forward_s = 0;
  double backward_s = 0;
  double forward_cpu_s = 0;  // summed over threads
  double backward_cpu_s = 0;
};

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

Run forward_backward(int64_t b, int64_t h, int64_t t, int64_t dh, kiln::Generator& gen) {
  using namespace kiln;
  // (B, T, H, Dh) activations viewed as (B, H, T, Dh), as a transformer does.
  Tensor q = uniform({b, t, h, dh}, -1, 1, gen).set_requires_grad();
  Tensor k = uniform({b, t, h, dh}, -1, 1, gen).set_requires_grad();
  Tensor v = uniform({b, t, h, dh}, -1, 1, gen).set_requires_grad();
  Tensor dout = uniform({b, h, t, dh}, -1, 1, gen);
  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  Tensor out = attention(transpose(q, 1, 2), transpose(k, 1, 2), transpose(v, 1, 2), Tensor(),
                         Tensor(), {.causal = true});
  const double cpu_middle = cpu_seconds();
  const auto middle = std::chrono::steady_clock::now();
  out.backward(dout);
  const double cpu_end = cpu_seconds();
  const auto end = std::chrono::steady_clock::now();
  return {std::chrono::duration<double>(middle - start).count(),
          std::chrono::duration<double>(end - middle).count(), cpu_middle - cpu_start,
          cpu_end - cpu_middle};
}

// One length in this process: prints T, peak RSS and the time.
int memory_one(int64_t t) {
  kiln::Generator gen(1);
  const Run run = forward_backward(1, 1, t, 64, gen);
  std::printf("%8ld %12.1f %14.1f %10.2f\n", static_cast<long>(t), mib(status_bytes("VmHWM")),
              mib(t * t * 4), run.forward_s + run.backward_s);
  return 0;
}

// Each length in a fresh process, so every peak starts from a clean heap.
int memory(const std::vector<int64_t>& lengths, const char* self) {
  std::printf("%8s %12s %14s %10s\n", "T", "peak MiB", "T*T*4 MiB", "time s");
  std::fflush(stdout);
  for (int64_t t : lengths) {
    std::string one = "--one", length = std::to_string(t);
    char* child_argv[] = {const_cast<char*>(self), one.data(), length.data(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, child_argv, environ) != 0) {
      std::fprintf(stderr, "cannot start a child process\n");
      return 1;
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "run at T = %ld failed\n", static_cast<long>(t));
      return 1;
    }
  }
  return 0;
}

int speed() {
  const int64_t b = 8, h = 8, t = 256, dh = 64;
  kiln::Generator gen(1);
  for (int i = 0; i < 3; ++i) forward_backward(b, h, t, dh, gen);  // warm up
  const int reps = 20;
  Run sum;
  for (int i = 0; i < reps; ++i) {
    const Run run = forward_backward(b, h, t, dh, gen);
    sum.forward_s += run.forward_s / reps;
    sum.backward_s += run.backward_s / reps;
    sum.forward_cpu_s += run.forward_cpu_s / reps;
    sum.backward_cpu_s += run.backward_cpu_s / reps;
  }
  const double flops = 4.0 * b * h * t * t * dh;
  std::printf("B=%ld H=%ld T=%ld Dh=%ld causal, threads=%d\n", static_cast<long>(b),
              static_cast<long>(h), static_cast<long>(t), static_cast<long>(dh),
              kiln::Context::current().num_threads());
  std::printf("%-9s %10s %10s %14s\n", "", "wall ms", "GFLOP/s", "GFLOP/cpu-s");
  auto line = [](const char* what, double f, double wall, double cpu) {
    std::printf("%-9s %10.2f %10.1f %14.1f\n", what, wall * 1e3, f / wall * 1e-9, f / cpu * 1e-9);
  };
  line("forward", flops, sum.forward_s, sum.forward_cpu_s);
  line("backward", 2.5 * flops, sum.backward_s, sum.backward_cpu_s);
  line("total", 3.5 * flops, sum.forward_s + sum.backward_s,
       sum.forward_cpu_s + sum.backward_cpu_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> lengths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--speed") return speed();
    if (arg == "--one" && i + 1 < argc) return memory_one(std::strtoll(argv[i + 1], nullptr, 10));
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s [T ...] | --speed\n", argv[0]);
      return 0;
    }
    char* end = nullptr;
    const long long t = std::strtoll(arg.c_str(), &end, 10);
    if (end == arg.c_str() || *end != '\0' || t <= 0) {
      std::fprintf(stderr, "bad sequence length: %s\n", arg.c_str());
      return 2;
    }
    lengths.push_back(t);
  }
  if (lengths.empty()) lengths = {4096, 8192, 16384, 32768};
  return memory(lengths, argv[0]);
}
