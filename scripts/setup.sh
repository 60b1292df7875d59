#!/usr/bin/env bash
# Installs everything kiln needs to build, test and run on Debian 12, from
# Debian's packages. Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates
  libeigen3-dev libdnnl-dev libabsl-dev nlohmann-json3-dev zlib1g-dev
  libsndfile1-dev  # audio files (WAV, FLAC) for the audio data readers
  espeak-ng  # the speech part of the generated HARES-style audio benchmark
  ocl-icd-opencl-dev  # Debian's oneDNN CMake package requires OpenCL to be found
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin  # optional data-parallel training (docs/distributed.md)
  dataset-fashion-mnist
  python3.11-doc  # the LM configs' English corpus: /usr/share/doc/python3.11/html/_sources
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
