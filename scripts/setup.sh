#!/usr/bin/env bash
# Installs every Debian package qsenti needs and builds it.
# Safe to run again: apt and cmake skip what is already done.
#
#   scripts/setup.sh [--libtorch debian|pypi|DIR]     (or QSENTI_LIBTORCH=...)
#
#   debian  Debian's libtorch-dev 1.13, CPU only, into build/ (the default)
#   pypi    LibTorch 2.x of the PyPI torch wheel (CUDA, MKL), pinned in
#           scripts/interop-requirements.txt and installed by
#           scripts/setup-interop.sh, into build-torch2/; the CUDA toolkit
#           (nvcc) must be installed, a GPU need not be
#   DIR     a LibTorch of your own (the folder holding share/cmake/Torch), into
#           build-custom/
#   BUILD_DIR overrides the folder, JOBS the compile jobs, QSENTI_BUILD_TARGETS
#   the targets (default: all, benchmarks included).
set -euo pipefail
cd "$(dirname "$0")/.."

LIBTORCH=${QSENTI_LIBTORCH:-debian}
while (($#)); do
  case "$1" in
    --libtorch) LIBTORCH=${2:?--libtorch needs debian, pypi or a folder}; shift 2 ;;
    --libtorch=*) LIBTORCH=${1#*=}; shift ;;
    *) echo "setup: unknown argument '$1' (expected --libtorch debian|pypi|DIR)" >&2; exit 2 ;;
  esac
done

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
  libcurl4-openssl-dev    # `qsenti download`: HTTP(S) to the Hugging Face Hub
  libssl-dev              # SHA-256 of downloaded files (OpenSSL EVP)
  libgloo-dev             # headers LibTorch's c10d needs for Gloo: training across processes (src/dist)
  iproute2                # the two-host distributed test (network namespaces)
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

TORCH_ARGS=()
case "$LIBTORCH" in
  debian) BUILD_DIR=${BUILD_DIR:-build} ;;
  pypi)
    BUILD_DIR=${BUILD_DIR:-build-torch2}
    py=$(bash scripts/setup-interop.sh)
    # The torch package root: CMAKE_PREFIX_PATH there (not share/cmake) makes
    # CMake take the wheel's libtorch.so before Debian's in /usr/lib.
    TORCH_ROOT=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
    TORCH_ARGS+=("-DCMAKE_PREFIX_PATH=$TORCH_ROOT")
    NVCC=$(command -v nvcc || true)
    [ -n "$NVCC" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || NVCC=/usr/local/cuda/bin/nvcc
    if [ -n "$NVCC" ]; then
      TORCH_ARGS+=("-DCMAKE_CUDA_COMPILER=$NVCC" "-DCUDAToolkit_ROOT=$(dirname "$(dirname "$NVCC")")")
    else
      echo "setup: WARNING: no nvcc found; the CUDA wheel's CMake package needs the CUDA toolkit" >&2
    fi
    ;;
  *)
    [ -d "$LIBTORCH" ] || { echo "setup: --libtorch: '$LIBTORCH' is not debian, pypi or a folder" >&2; exit 2; }
    BUILD_DIR=${BUILD_DIR:-build-custom}
    TORCH_ARGS+=("-DCMAKE_PREFIX_PATH=$(cd "$LIBTORCH" && pwd)")
    ;;
esac

# QSENTI_INTEROP_PYTHON (scripts/test.sh sets it) turns the interop tests on.
# ccache keyed on paths relative to the checkout, so clones and worktrees share it;
# the sloppiness lets it cache translation units built with the precompiled header.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$PWD;CCACHE_NOHASHDIR=1;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;ccache" \
  "${TORCH_ARGS[@]}" \
  -DQSENTI_INTEROP_PYTHON="${QSENTI_INTEROP_PYTHON:-}" >/dev/null
# Two compile jobs fit the 24 GiB machines; LibTorch translation units are big.
# QSENTI_BUILD_TARGETS limits the build (test.sh's second build skips the benchmarks).
read -r -a targets <<< "${QSENTI_BUILD_TARGETS:-}"
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" ${targets[@]+--target "${targets[@]}"}
echo "setup: built $BUILD_DIR/qsenti ($LIBTORCH LibTorch)"
