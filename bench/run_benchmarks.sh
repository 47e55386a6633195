#!/usr/bin/env bash
# Builds the benchmarks, creates the random 0.6B model they use (once), and
# prints every figure. Usage: bash bench/run_benchmarks.sh [forward|tokenizer|embed|train|scoring ...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[ -x "$BUILD_DIR/qsenti" ] || bash scripts/setup.sh
cmake --build "$BUILD_DIR" -j "$(nproc)" >/dev/null
MODEL=${QSENTI_BENCH_MODEL:-$BUILD_DIR/bench-models/Qwen3-0.6B}
if [ ! -f "$MODEL/config.json" ]; then
  "$BUILD_DIR/qsenti" init --preset 0.6B --out "$MODEL" --seed 0
fi
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(tokenizer forward embed train scoring)
for b in "${which[@]}"; do
  echo "== $b"
  case "$b" in
    forward)
      "$BUILD_DIR/bench_forward" --model "$MODEL" --dtype bf16 --threads 2
      "$BUILD_DIR/bench_forward" --model "$MODEL" --dtype fp32 --threads 2 ;;
    tokenizer) "$BUILD_DIR/bench_tokenizer" ;;
    train) "$BUILD_DIR/bench_train" --preset 0.6B --threads 2 ;;  # builds its random model in memory
    *) if [ -x "$BUILD_DIR/bench_$b" ]; then "$BUILD_DIR/bench_$b" --model "$MODEL"; else echo "(bench_$b not built)"; fi ;;
  esac
done
