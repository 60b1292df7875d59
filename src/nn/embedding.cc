#include "kiln/nn/init.h"
#include "kiln/nn/layers.h"

namespace kiln::nn {

Embedding::Embedding(const EmbeddingOptions& options, Generator& gen) : options_(options) {
  KILN_CHECK(options.num_embeddings > 0 && options.dim > 0,
             "Embedding: num_embeddings and dim must be positive, got ", options.num_embeddings,
             " and ", options.dim);
  Tensor table = Tensor::empty({options.num_embeddings, options.dim});
  if (options.init) {
    options.init(table, gen);
  } else {
    init::truncated_normal_(table, 0.0, 1.0, gen);
  }
  table_ = register_parameter("embeddings", table);
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(table_, ids); }

}  // namespace kiln::nn
