// Gradient-check samples for embedding and dropout, with forward-value,
// determinism and argument-error checks.
#include <gtest/gtest.h>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// table (5, 3); ids (2, 4) with repeats (1 three times, 2 and 4 twice, 3 never).
TensorList embedding_inputs(DType d, Generator& g, DType id_dtype) {
  Tensor ids = from_vector(std::vector<int64_t>{1, 4, 1, 2, 4, 0, 1, 2}, {2, 4});
  return {random_tensor({5, 3}, d, g), to_dtype(ids, id_dtype)};
}

KILN_OP_SAMPLE({.op = "embedding",
                .variant = "(2,4) i64 ids with repeats",
                .inputs = [](DType d, Generator& g) { return embedding_inputs(d, g, DType::kI64); },
                .apply = [](const TensorList& in) { return embedding(in[0], in[1]); }});
KILN_OP_SAMPLE({.op = "embedding",
                .variant = "(2,4) i32 ids through a transposed view",
                .inputs = [](DType d, Generator& g) { return embedding_inputs(d, g, DType::kI32); },
                .apply =
                    [](const TensorList& in) { return embedding(in[0], transpose(in[1], 0, 1)); }});

TensorList dropout_inputs(DType d, Generator& g) { return {random_tensor({4, 6}, d, g)}; }

// The generator is built inside apply, so every finite-difference
// evaluation draws the same mask.
KILN_OP_SAMPLE({.op = "dropout",
                .variant = "p 0.4, fixed seed",
                .inputs = dropout_inputs,
                .apply = [](const TensorList& in) {
                  Generator gen(77);
                  return dropout(in[0], 0.4, gen);
                }});
KILN_OP_SAMPLE({.op = "dropout",
                .variant = "p 1 gives zeros",
                .inputs = dropout_inputs,
                .apply = [](const TensorList& in) {
                  Generator gen(77);
                  return dropout(in[0], 1.0, gen);
                }});
KILN_OP_SAMPLE({.op = "dropout",
                .variant = "not training is the identity",
                .inputs = dropout_inputs,
                .apply = [](const TensorList& in) {
                  Generator gen(77);
                  return dropout(in[0], 0.5, gen, /*training=*/false);
                }});

template <class F>
void expect_error(F fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no exception, expected one containing: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Embedding, RowsOfTheTable) {
  Tensor table = from_vector(std::vector<double>{0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor ids = to_dtype(from_vector(std::vector<int64_t>{2, 0, 2}, {3, 1}), DType::kI32);
  Tensor y = embedding(table, ids);
  EXPECT_EQ(y.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(to_vector(y), (std::vector<double>{20, 21, 0, 1, 20, 21}));
  EXPECT_EQ(embedding(table, from_vector(std::vector<int64_t>{}, {0})).shape(), (Shape{0, 2}));
}

std::vector<double> embedding_grad_with_threads(int threads) {
  Context context({.num_threads = threads});
  ContextScope scope(context);
  Generator gen(8);
  Tensor table = zeros({50, 16}).set_requires_grad(true);
  Tensor ids = randint({4000}, 0, 50, gen);
  Tensor dy = uniform({4000, 16}, -1, 1, gen);
  embedding(table, ids).backward(dy);
  return to_vector(table.grad());
}

TEST(Embedding, BackwardIsTheSameWhateverTheThreadCount) {
  std::vector<double> one = embedding_grad_with_threads(1);
  EXPECT_EQ(one, embedding_grad_with_threads(2));
  // And it is the scatter-add of dy.
  Generator gen(8);
  std::vector<double> ids = to_vector(randint({4000}, 0, 50, gen));
  std::vector<double> dy = to_vector(uniform({4000, 16}, -1, 1, gen));
  std::vector<double> want(50 * 16, 0.0);
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int j = 0; j < 16; ++j) want[static_cast<size_t>(ids[i]) * 16 + j] += dy[i * 16 + j];
  }
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(one[k], want[k], 1e-4);
}

TEST(Embedding, BadArgumentsThrow) {
  expect_error(
      [] {
        embedding(zeros({5, 3}), from_vector(std::vector<int64_t>{1, 7, 2}, {3}));
      },
      "embedding: id 7 at position 1 is out of range for a table of V = 5 rows");
  expect_error(
      [] {
        embedding(zeros({5, 3}), from_vector(std::vector<int64_t>{-1}, {1}));
      },
      "embedding: id -1");
  expect_error(
      [] {
        embedding(zeros({5, 3}), zeros({2}));
      },
      "embedding: ids must be i32 or i64, got f32 (2,)");
  expect_error([] { embedding(zeros({5}), from_vector(std::vector<int64_t>{1}, {1})); },
               "embedding: table must be (V, D), got (5,)");
}

TEST(Dropout, DropsAboutPAndScalesTheRest) {
  Generator gen(4);
  Tensor x = ones({100000});
  std::vector<double> y = to_vector(dropout(x, 0.3, gen));
  int zeros_seen = 0;
  for (double v : y) {
    if (v == 0) {
      ++zeros_seen;
    } else {
      EXPECT_FLOAT_EQ(v, 1.0 / 0.7);
    }
  }
  EXPECT_NEAR(zeros_seen / 100000.0, 0.3, 0.01);
}

TEST(Dropout, DeterministicFromTheGenerator) {
  Tensor x = ones({1000});
  Generator a(9), b(9);
  std::vector<double> first = to_vector(dropout(x, 0.5, a));
  EXPECT_EQ(first, to_vector(dropout(x, 0.5, b)));
  // The generator advances, so the next mask differs.
  EXPECT_NE(first, to_vector(dropout(x, 0.5, a)));
}

TEST(Dropout, IdentityCasesAndAllDropped) {
  Generator gen(1);
  Tensor x = ones({3, 4});
  EXPECT_EQ(to_vector(dropout(x, 0.0, gen)), to_vector(x));
  EXPECT_EQ(to_vector(dropout(x, 0.9, gen, /*training=*/false)), to_vector(x));
  EXPECT_EQ(to_vector(dropout(x, 1.0, gen)), std::vector<double>(12, 0.0));
  expect_error([&] { dropout(x, 1.5, gen); }, "dropout: p must be in [0, 1], got 1.5");
  expect_error([&] { dropout(zeros({2}, DType::kI64), 0.5, gen); }, "dropout: needs a floating");
}

}  // namespace
}  // namespace kiln::testing
