#!/usr/bin/env bash
# The main job: sets up, builds kiln and trains the default config.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release -DKILN_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release -j "$(nproc)" --target kiln_cli
exec build/release/tools/kiln train "${1:-configs/experiments/fashion_mnist.json}" "${@:2}"
