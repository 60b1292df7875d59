// Builds a small MLP with kiln and fits a toy regression for a few steps.
#include <cstdio>

#include "kiln/kiln.h"
#include "kiln/nn/layers.h"
#include "kiln/optim/optimizer.h"

int main() {
  using namespace kiln;
  Generator gen(0);
  nn::Mlp model({.in_features = 4, .hidden = {32}, .out_features = 1, .activation = "gelu"}, gen);
  optim::AdamW optimizer(model.named_parameters(), {.weight_decay = 0.0});

  // y = sum(x) + noise: a model that learns must drive the loss down.
  Tensor x = normal({256, 4}, 0.0, 1.0, gen);
  Tensor y = add(sum(x, {1}, /*keepdim=*/true), normal({256, 1}, 0.0, 0.01, gen));
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    Tensor loss = mean(square(sub(model.forward(x), y)));
    loss.backward();
    optimizer.step(1e-2);
    optimizer.zero_grad();
    last = loss.item<double>();
    if (step == 0) first = last;
  }
  std::printf("loss %.4f -> %.4f\n", first, last);
  return last < first * 0.1 ? 0 : 1;
}
