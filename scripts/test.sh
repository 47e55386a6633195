#!/usr/bin/env bash
# Sets up (installs packages, builds) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The interop tests' Python environment (PyPI: torch, transformers, peft).
# QSENTI_SKIP_INTEROP=1 leaves it out; the interop tests then report skipped.
if [ "${QSENTI_SKIP_INTEROP:-0}" != 1 ]; then
  if py=$(bash scripts/setup-interop.sh); then
    export QSENTI_INTEROP_PYTHON="$py"
  else
    echo "test: WARNING: the interop environment could not be made; interop tests will be skipped" >&2
  fi
fi
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure -j "${JOBS:-2}" "$@"
