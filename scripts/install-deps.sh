#!/usr/bin/env bash
# Installs the Debian 12 packages Lethe needs, and only those that are missing.
# Idempotent: a second run with everything present does nothing and needs no network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev  # `make fuzz`: libFuzzer and the sanitizers' runtimes
  libtorch-dev
  libopenblas0-pthread   # without it libblas.so.3 is the reference BLAS: training ~13x slower
  libopenmpi-dev openmpi-bin
  libhdf5-dev zlib1g-dev
  libsqlite3-dev
  libspdlog-dev
  catch2
  libcli11-dev
  libtomlplusplus-dev
  nlohmann-json3-dev
  libsodium-dev
  libcpp-httplib-dev
  libsentencepiece-dev
  dataset-fashion-mnist
  fortunes
  chromium               # headless: the test that `lethe report` renders, with a screenshot
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when a missing package is unknown to apt.
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  "${sudo[@]}" apt-get update -q
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
