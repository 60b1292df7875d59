#!/usr/bin/env bash
# The main job: sets up, builds kiln and trains the default config.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release -DKILN_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release -j "$(nproc)" --target kiln_cli
if [ $# -eq 0 ]; then
  # A new run directory each time, so running this again starts afresh.
  exec build/release/tools/kiln train configs/experiments/fashion_mnist.json \
    --set "output_dir=runs/fashion_mnist/$(date +%Y%m%d-%H%M%S)"
fi
exec build/release/tools/kiln train "$@"
