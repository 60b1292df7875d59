#!/usr/bin/env bash
# The test command: sets up, builds kiln with warnings as errors, runs the
# whole test suite, then builds and runs it again under AddressSanitizer and
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
jobs=$(nproc)

echo "== release build and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

echo "== install, then build and run the example consumer against the installed package"
rm -rf build/install build/example
cmake --install build/release --prefix build/install >/dev/null
cmake -S examples/train_tiny -B build/example -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/example
build/example/train_tiny

echo "== sanitizer build (ASan + UBSan) and tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

echo "== all tests passed"
