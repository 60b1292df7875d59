// The blocked f32 attention kernel against the reference (run in f64) over
// shapes around its block sizes, bitwise determinism across thread counts,
// and a peak-memory check that nothing of size Tq x Tk is allocated.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"

namespace kiln::kernels {
namespace {

constexpr int64_t kBq = kAttentionBlockQ;
constexpr int64_t kBk = kAttentionBlockK;
constexpr int64_t kBkForward = kAttentionForwardBlockK;

enum class Layout { kBHTD, kBTHD };  // memory order of q, k, v and the gradients
enum class Bias { kNone, kFull, kHeadShared, kKeyOnly };

struct Case {
  int64_t b, h, tq, tk, dh, dv;
  bool causal = false;
  Bias bias = Bias::kNone;
  bool mask = false;
  Layout layout = Layout::kBHTD;
};

std::string describe(const Case& c) {
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "B=%ld H=%ld Tq=%ld Tk=%ld Dh=%ld Dv=%ld causal=%d bias=%d "
                "mask=%d bthd=%d",
                static_cast<long>(c.b), static_cast<long>(c.h), static_cast<long>(c.tq),
                static_cast<long>(c.tk), static_cast<long>(c.dh), static_cast<long>(c.dv), c.causal,
                static_cast<int>(c.bias), c.mask, static_cast<int>(c.layout));
  return buf;
}

AttentionStrides strides_of(Layout layout, int64_t h, int64_t t, int64_t d) {
  if (layout == Layout::kBTHD) return {t * h * d, d, h * d};
  return {h * t * d, t * d, d};
}

// All buffers of one problem in type T; `desc` describes them.
template <class T>
struct Buffers {
  std::vector<T> q, k, v, bias, out, lse, dout, dq, dk, dv, dbias;
  std::vector<char> mask;  // bool storage
  AttentionTensors<T> tensors(bool with_bias, bool with_mask) {
    AttentionTensors<T> t;
    t.q = q.data();
    t.k = k.data();
    t.v = v.data();
    t.bias = with_bias ? bias.data() : nullptr;
    t.key_padding_mask = with_mask ? reinterpret_cast<const bool*>(mask.data()) : nullptr;
    t.out = out.data();
    t.lse = lse.data();
    t.dout = dout.data();
    t.dq = dq.data();
    t.dk = dk.data();
    t.dv = dv.data();
    t.dbias = with_bias ? dbias.data() : nullptr;
    return t;
  }
};

struct Problem {
  Case c;
  AttentionDesc desc;
  Buffers<float> f;
  Buffers<double> d;

  explicit Problem(const Case& cs, uint32_t seed = 1) : c(cs) {
    desc.batch = c.b;
    desc.heads = c.h;
    desc.q_len = c.tq;
    desc.k_len = c.tk;
    desc.head_dim = c.dh;
    desc.value_dim = c.dv;
    desc.scale = c.dh > 0 ? 1.0 / std::sqrt(static_cast<double>(c.dh)) : 1.0;
    desc.causal = c.causal;
    desc.q = desc.dq = strides_of(c.layout, c.h, c.tq, c.dh);
    desc.k = desc.dk = strides_of(c.layout, c.h, c.tk, c.dh);
    desc.v = desc.dv = strides_of(c.layout, c.h, c.tk, c.dv);
    desc.out = desc.dout = strides_of(Layout::kBTHD, c.h, c.tq, c.dv);
    // Leading dimensions (GEMM lda) must be >= 1 even for empty rows.
    for (AttentionStrides* s :
         {&desc.q, &desc.k, &desc.v, &desc.out, &desc.dout, &desc.dq, &desc.dk, &desc.dv}) {
      s->t = std::max<int64_t>(s->t, 1);
    }
    int64_t bias_size = 0;
    switch (c.bias) {
      case Bias::kNone:
        break;
      case Bias::kFull:  // (B, H, Tq, Tk)
        desc.bias_strides[0] = c.h * c.tq * c.tk;
        desc.bias_strides[1] = c.tq * c.tk;
        desc.bias_strides[2] = c.tk;
        desc.bias_strides[3] = 1;
        bias_size = c.b * c.h * c.tq * c.tk;
        break;
      case Bias::kHeadShared:  // (B, 1, Tq, Tk)
        desc.bias_strides[0] = c.tq * c.tk;
        desc.bias_strides[2] = c.tk;
        desc.bias_strides[3] = 1;
        bias_size = c.b * c.tq * c.tk;
        break;
      case Bias::kKeyOnly:  // (1, 1, 1, Tk) stored with stride 2
        desc.bias_strides[3] = 2;
        bias_size = 2 * c.tk;
        break;
    }
    desc.mask_strides[0] = c.tk;
    desc.mask_strides[1] = 1;

    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    auto fill = [&](std::vector<float>& x, int64_t n) {
      x.resize(static_cast<size_t>(n));
      for (float& e : x) e = uni(gen);
    };
    fill(f.q, c.b * c.h * c.tq * c.dh);
    fill(f.k, c.b * c.h * c.tk * c.dh);
    fill(f.v, c.b * c.h * c.tk * c.dv);
    fill(f.bias, bias_size);
    fill(f.dout, c.b * c.h * c.tq * c.dv);
    f.mask.resize(static_cast<size_t>(c.b * c.tk));
    for (int64_t b = 0; b < c.b; ++b) {
      for (int64_t j = 0; j < c.tk; ++j) {
        // Batch 1 (if any) sees no key at all; the others lose some keys.
        f.mask[b * c.tk + j] = b == 1 ? 0 : (gen() % 5 != 0);
      }
    }
    d.q.assign(f.q.begin(), f.q.end());
    d.k.assign(f.k.begin(), f.k.end());
    d.v.assign(f.v.begin(), f.v.end());
    d.bias.assign(f.bias.begin(), f.bias.end());
    d.dout.assign(f.dout.begin(), f.dout.end());
    d.mask = f.mask;
    resize_outputs(f);
    resize_outputs(d);
  }

  template <class T>
  void resize_outputs(Buffers<T>& x) {
    x.out.assign(static_cast<size_t>(c.b * c.h * c.tq * c.dv), T(-7));
    x.lse.assign(static_cast<size_t>(c.b * c.h * c.tq), T(-7));
    x.dq.assign(static_cast<size_t>(c.b * c.h * c.tq * c.dh), T(-7));
    x.dk.assign(static_cast<size_t>(c.b * c.h * c.tk * c.dh), T(-7));
    x.dv.assign(static_cast<size_t>(c.b * c.h * c.tk * c.dv), T(-7));
    x.dbias.assign(c.bias != Bias::kNone ? static_cast<size_t>(c.b * c.h * c.tq * c.tk) : 0, T(-7));
  }

  bool with_bias() const { return c.bias != Bias::kNone; }

  void run_fast(Isa isa, AttentionBackwardPlan plan = AttentionBackwardPlan::kAuto) {
    const AttentionTensors<float> t = f.tensors(with_bias(), c.mask);
    attention_forward_isa(isa, desc, t);
    attention_backward_isa(isa, desc, t, plan);
  }
  void run_ref() {
    const AttentionTensors<double> t = d.tensors(with_bias(), c.mask);
    ref::attention_forward(desc, t);
    ref::attention_backward(desc, t);
  }
};

void expect_close(const char* what, const std::vector<float>& got, const std::vector<double>& want,
                  const std::string& context, double atol = 1e-4, double rtol = 1e-3) {
  ASSERT_EQ(got.size(), want.size()) << what << " " << context;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i])) {
      ASSERT_EQ(static_cast<double>(got[i]), want[i]) << what << "[" << i << "] " << context;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], atol + rtol * std::abs(want[i]))
        << what << "[" << i << "] " << context;
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The blocked kernel with every ISA's block steps, and both backward plans,
// against the reference.
void check_against_ref(const Case& c) {
  Problem p(c);
  p.run_ref();
  for (Isa isa : available_isas()) {
    for (AttentionBackwardPlan plan :
         {AttentionBackwardPlan::kTwoPass, AttentionBackwardPlan::kPerHead}) {
      p.resize_outputs(p.f);
      p.run_fast(isa, plan);
      const std::string ctx = describe(c) + " isa=" + isa_name(isa) +
                              (plan == AttentionBackwardPlan::kPerHead ? " per-head" : " two-pass");
      expect_close("out", p.f.out, p.d.out, ctx);
      expect_close("lse", p.f.lse, p.d.lse, ctx);
      expect_close("dq", p.f.dq, p.d.dq, ctx);
      expect_close("dk", p.f.dk, p.d.dk, ctx);
      expect_close("dv", p.f.dv, p.d.dv, ctx);
      expect_close("dbias", p.f.dbias, p.d.dbias, ctx);
    }
  }
}

TEST(AttentionKernel, MatchesReferenceAroundBlockSizes) {
  const int64_t qs[] = {1, kBq - 1, kBq + 1, 2 * kBq + 3};
  const int64_t ks[] = {1, kBk - 1, kBk, kBk + 1, kBkForward + 1};
  for (int64_t tq : qs) {
    for (int64_t tk : ks) {
      for (bool causal : {false, true}) {
        check_against_ref({.b = 1, .h = 1, .tq = tq, .tk = tk, .dh = 8, .dv = 5, .causal = causal});
      }
    }
  }
}

TEST(AttentionKernel, MatchesReferenceWithBiasMaskAndLayouts) {
  for (Bias bias : {Bias::kFull, Bias::kHeadShared, Bias::kKeyOnly}) {
    for (bool causal : {false, true}) {
      check_against_ref({.b = 3,
                         .h = 2,
                         .tq = 70,
                         .tk = 150,
                         .dh = 16,
                         .dv = 24,
                         .causal = causal,
                         .bias = bias,
                         .mask = true,
                         .layout = Layout::kBTHD});
    }
  }
  // Tq > Tk under a causal mask: the first Tq - Tk rows see nothing.
  check_against_ref({.b = 2,
                     .h = 2,
                     .tq = 140,
                     .tk = 40,
                     .dh = 8,
                     .dv = 8,
                     .causal = true,
                     .bias = Bias::kFull,
                     .mask = true});
}

TEST(AttentionKernel, MatchesReferenceOnLongerSequences) {
  // B * H above the thread count, T past several blocks.
  check_against_ref({.b = 2,
                     .h = 3,
                     .tq = 200,
                     .tk = 333,
                     .dh = 64,
                     .dv = 64,
                     .causal = true,
                     .layout = Layout::kBTHD});
  check_against_ref(
      {.b = 1, .h = 2, .tq = 600, .tk = 600, .dh = 32, .dv = 32, .causal = true, .mask = true});
  check_against_ref({.b = 1, .h = 1, .tq = 577, .tk = 600, .dh = 48, .dv = 16});
}

TEST(AttentionKernel, EmptyAndTinySizes) {
  const Case cases[] = {
      {.b = 0, .h = 2, .tq = 3, .tk = 3, .dh = 4, .dv = 4},
      {.b = 1, .h = 0, .tq = 3, .tk = 3, .dh = 4, .dv = 4},
      {.b = 1, .h = 1, .tq = 0, .tk = 3, .dh = 4, .dv = 4, .causal = true},
      {.b = 2, .h = 1, .tq = 3, .tk = 0, .dh = 4, .dv = 4, .bias = Bias::kFull},
      {.b = 1, .h = 1, .tq = 3, .tk = 3, .dh = 0, .dv = 4},
      {.b = 1, .h = 1, .tq = 3, .tk = 3, .dh = 4, .dv = 0, .causal = true},
      {.b = 1, .h = 1, .tq = 1, .tk = 1, .dh = 1, .dv = 1},
      {.b = 2, .h = 1, .tq = 1, .tk = 1, .dh = 1, .dv = 1, .mask = true},
  };
  for (const Case& c : cases) check_against_ref(c);
}

TEST(AttentionKernel, ComputesOnlyTheRequestedGradients) {
  const Case c{.b = 2, .h = 2, .tq = 70, .tk = 140, .dh = 8, .dv = 12, .causal = true};
  Problem p(c);
  p.run_ref();
  for (AttentionBackwardPlan plan :
       {AttentionBackwardPlan::kTwoPass, AttentionBackwardPlan::kPerHead}) {
    const Isa isa = best_isa();
    const std::string ctx = describe(c) + " plan=" + std::to_string(static_cast<int>(plan));
    // dk and dv only (the first pass, which also makes the row deltas, is skipped).
    p.resize_outputs(p.f);
    AttentionTensors<float> t = p.f.tensors(false, false);
    attention_forward_isa(isa, p.desc, t);
    t.dq = nullptr;
    attention_backward_isa(isa, p.desc, t, plan);
    expect_close("dk", p.f.dk, p.d.dk, ctx);
    expect_close("dv", p.f.dv, p.d.dv, ctx);
    EXPECT_EQ(p.f.dq[0], -7.0f) << "dq written though not requested";
    // dq only.
    p.resize_outputs(p.f);
    t = p.f.tensors(false, false);
    attention_forward_isa(isa, p.desc, t);
    t.dk = t.dv = nullptr;
    attention_backward_isa(isa, p.desc, t, plan);
    expect_close("dq", p.f.dq, p.d.dq, ctx);
    EXPECT_EQ(p.f.dk[0], -7.0f) << "dk written though not requested";
  }
}

TEST(AttentionKernel, SameBitsWithOneOrTwoThreads) {
  const int saved = omp_get_max_threads();
  const Case c{.b = 2,
               .h = 3,
               .tq = 150,
               .tk = 300,
               .dh = 32,
               .dv = 16,
               .causal = true,
               .bias = Bias::kHeadShared,
               .mask = true,
               .layout = Layout::kBTHD};
  for (AttentionBackwardPlan plan : {AttentionBackwardPlan::kAuto, AttentionBackwardPlan::kTwoPass,
                                     AttentionBackwardPlan::kPerHead}) {
    Problem one(c), two(c);
    omp_set_num_threads(1);
    one.run_fast(best_isa(), plan);
    omp_set_num_threads(2);
    two.run_fast(best_isa(), plan);
    omp_set_num_threads(saved);
    EXPECT_TRUE(same_bits(one.f.out, two.f.out));
    EXPECT_TRUE(same_bits(one.f.lse, two.f.lse));
    EXPECT_TRUE(same_bits(one.f.dq, two.f.dq));
    EXPECT_TRUE(same_bits(one.f.dk, two.f.dk));
    EXPECT_TRUE(same_bits(one.f.dv, two.f.dv));
    EXPECT_TRUE(same_bits(one.f.dbias, two.f.dbias));
  }
}

TEST(AttentionKernel, BackwardPlansAgree) {
  // Both plans compute the same tiles in the same order; only the dq
  // accumulator differs (scratch vs the output rows), so they agree closely
  // (bit for bit with this machine's oneDNN GEMMs, which is not promised).
  const Case c{.b = 2,
               .h = 2,
               .tq = 150,
               .tk = 260,
               .dh = 24,
               .dv = 16,
               .causal = true,
               .bias = Bias::kFull,
               .mask = true,
               .layout = Layout::kBTHD};
  Problem two_pass(c), per_head(c);
  two_pass.run_fast(best_isa(), AttentionBackwardPlan::kTwoPass);
  per_head.run_fast(best_isa(), AttentionBackwardPlan::kPerHead);
  std::vector<double> want(two_pass.f.dq.begin(), two_pass.f.dq.end());
  expect_close("dq", per_head.f.dq, want, describe(c), 1e-6, 1e-5);
  EXPECT_TRUE(same_bits(per_head.f.dk, two_pass.f.dk));
  EXPECT_TRUE(same_bits(per_head.f.dv, two_pass.f.dv));
  EXPECT_TRUE(same_bits(per_head.f.dbias, two_pass.f.dbias));
  std::printf("dq of the two plans %s bit for bit\n",
              same_bits(per_head.f.dq, two_pass.f.dq) ? "agree" : "differ");
}

// Peak resident memory (VmHWM) in bytes, or -1.
int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0).
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

TEST(AttentionKernel, MemoryDoesNotGrowWithTheScoreMatrix) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine keeps freed blocks resident, so RSS says nothing here.
  GTEST_SKIP() << "peak RSS is not meaningful under AddressSanitizer";
#endif
  const int64_t t = 4096, dh = 64;
  Case c{.b = 1, .h = 1, .tq = t, .tk = t, .dh = dh, .dv = dh, .causal = true};
  Problem p(c);
  p.run_fast(best_isa());  // warm up (oneDNN JIT kernels, OpenMP threads)
  if (!reset_peak_rss() || peak_rss_bytes() < 0) GTEST_SKIP() << "cannot reset VmHWM";
  const int64_t before = peak_rss_bytes();
  p.run_fast(best_isa());
  const int64_t growth = peak_rss_bytes() - before;
  // One (T, T) f32 matrix would be 64 MiB; blocks and row vectors are far below.
  EXPECT_LT(growth, t * t * 4 / 16) << "peak RSS grew by " << growth << " bytes";
}

}  // namespace
}  // namespace kiln::kernels
