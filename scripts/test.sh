#!/usr/bin/env bash
# Sets up (installs packages, builds) and runs the whole test suite on both
# supported LibTorch builds: Debian's 1.13 (build/) and the PyPI wheel's 2.x
# with CUDA compiled in (build-torch2/; on CPU here, a GPU is not needed).
#   QSENTI_SKIP_INTEROP=1  leaves out the Python environment; interop tests report skipped
#   QSENTI_SKIP_TORCH2=1   only the Debian build
#   QSENTI_SKIP_FUZZ=1     leaves out the fuzz targets (scripts/fuzz.sh)
#   QSENTI_FUZZ_SECONDS=N  how long each fuzz target runs (default 60)
#   QSENTI_FUZZ_FATAL=1    a new fuzz finding fails the run (the replayed seeds always do)
# Extra arguments go to ctest (e.g. -R Tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
# The interop tests' Python environment (PyPI: torch, transformers, peft).
if [ "${QSENTI_SKIP_INTEROP:-0}" != 1 ]; then
  if py=$(bash scripts/setup-interop.sh); then
    export QSENTI_INTEROP_PYTHON="$py"
  else
    echo "test: WARNING: the interop environment could not be made; interop tests will be skipped" >&2
  fi
fi
status=0
bash scripts/setup.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j "${JOBS:-2}" "$@") || status=1
if [ "${QSENTI_SKIP_FUZZ:-0}" != 1 ]; then
  # libFuzzer under ASan + UBSan (clang): every committed seed, past crashes
  # among them, is a regression check; then each target fuzzes for a while.
  # A new finding is printed with the file that holds it; it fails the run
  # only with QSENTI_FUZZ_FATAL=1, so that chance does not block a landing.
  echo "test: the fuzz targets: their seeds, then ${QSENTI_FUZZ_SECONDS:-60} s each"
  bash scripts/fuzz.sh --replay || status=1
  if ! bash scripts/fuzz.sh --seconds "${QSENTI_FUZZ_SECONDS:-60}"; then
    echo "test: WARNING: fuzzing found a new crashing input (above); make it a regression test" >&2
    [ "${QSENTI_FUZZ_FATAL:-0}" != 1 ] || status=1
  fi
fi
if [ "${QSENTI_SKIP_TORCH2:-0}" != 1 ]; then
  echo "test: the same suite on LibTorch 2.x (PyPI wheel)"
  # The benchmarks compiled in the first build; here the CLI and the tests.
  BUILD_DIR=build-torch2 QSENTI_BUILD_TARGETS="qsenti qsenti_tests" bash scripts/setup.sh --libtorch pypi
  build-torch2/qsenti info --system | head -9
  (cd build-torch2 && ctest --output-on-failure -j "${JOBS:-2}" "$@") || status=1
fi
exit $status
