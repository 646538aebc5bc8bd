#!/usr/bin/env bash
# Installs what Lethe needs, and only what is missing: Debian 12 packages with apt, and the
# Python packages pinned in python-requirements.txt (LibTorch comes from the torch wheel) into
# the project's own virtual environment, .venv/.
# Idempotent: a second run with everything present does nothing and needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev  # `make fuzz`: libFuzzer and the sanitizers' runtimes
  python3-venv python3-pip   # the venv that holds the torch wheel (used when no pyenv python3)
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
  libutf8proc-dev        # Unicode categories, NFD and lower case for the WordPiece tokenizer
  dataset-fashion-mnist
  fortunes
  wordnet-base           # a second real text dataset: synset glosses labelled by supersense
  chromium               # headless: the test that `lethe report` renders, with a screenshot
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

install_debian_packages() {
  if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} Debian packages present"
    return 0
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
}

# The venv is current when it holds exactly the pinned versions; pip is asked only otherwise.
install_python_packages() {
  local venv=.venv requirements=python-requirements.txt
  if [ ! -x "$venv/bin/python" ]; then
    echo "install-deps: creating $venv"
    python3 -m venv "$venv"
  fi
  if "$venv/bin/python" scripts/check-requirements.py "$requirements"; then
    echo "install-deps: Python packages in $venv match $requirements"
    return 0
  fi
  echo "install-deps: installing $requirements into $venv (first time: a 3 GB download, 5.6 GiB installed)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/python" scripts/check-requirements.py "$requirements"
}

install_debian_packages
install_python_packages
