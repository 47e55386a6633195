#!/usr/bin/env bash
# Installs every Debian package qsenti needs and builds it into build/.
# Safe to run again: apt and cmake skip what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libtorch-dev            # tensors, autograd, optimizers
  libopenblas0-pthread    # without it LibTorch's fp32 matmul is ~70x slower
  libopenblas-dev         # lets us pin OpenBLAS to one thread from code
  libtcmalloc-minimal4    # malloc for big tensors: faster and leaner than glibc's here (see CMakeLists.txt)
  nlohmann-json3-dev libcli11-dev libpcre2-dev libicu-dev
  libgtest-dev libgmock-dev
  ccache                  # rebuilds and clean clones in CI reuse compiled objects
  libcpp-httplib-dev      # HTTP for `qsenti serve` (split build: header + libcpp-httplib.so)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
# QSENTI_INTEROP_PYTHON (scripts/test.sh sets it) turns the interop tests on.
# ccache keyed on paths relative to the checkout, so clones and worktrees share it.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$PWD;CCACHE_NOHASHDIR=1;ccache" \
  -DQSENTI_INTEROP_PYTHON="${QSENTI_INTEROP_PYTHON:-}" >/dev/null
# Two compile jobs fit the 24 GiB machines; LibTorch translation units are big.
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
echo "setup: built $BUILD_DIR/qsenti"
