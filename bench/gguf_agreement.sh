#!/usr/bin/env bash
# Labels of llama.cpp (q8_0 GGUF) against qsenti's on 500 Weibo texts, for
# trained classifiers (on an untrained one every text sits near a tie and
# agreement means nothing):
#   tiny-full  the tiny model, all weights trained (confident answers);
#   0.6B-lora  a random Qwen3-0.6B in the real shapes, LoRA + score head.
#   bash bench/gguf_agreement.sh [tiny-full] [0.6B-lora]
# Needs the interop environment (scripts/setup-interop.sh: llama-cpp-python).
# Prints one JSON line per model from bench/peer_llamacpp_gguf.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
Q=$BUILD_DIR/qsenti
[ -x "$Q" ] || bash scripts/setup.sh
PY=${QSENTI_INTEROP_PYTHON:-$(bash scripts/setup-interop.sh)}
WORK=${QSENTI_BENCH_DIR:-$BUILD_DIR/bench-gguf}
mkdir -p "$WORK"
# Training rows from the whole file (it is sorted by label), validation apart.
awk 'NR % 10 == 1 && n++ < 800' data/weibo2018/train.tsv > "$WORK/train.tsv"
awk 'NR % 10 == 5 && n++ < 64' data/weibo2018/train.tsv > "$WORK/valid.tsv"
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(tiny-full 0.6B-lora)
for b in "${which[@]}"; do
  case "$b" in
    tiny-full)
      M=$WORK/tiny
      [ -f "$M/config.json" ] || "$Q" init --preset tiny --out "$M" --seed 0 >/dev/null
      "$Q" train --method classifier --full --model "$M" --train "$WORK/train.tsv" --valid "$WORK/valid.tsv" \
        --dtype fp32 --lr 1e-3 --batch-size 16 --epochs 6 --max-length 96 --quiet --overwrite --out "$WORK/tiny-run" >/dev/null
      run=$WORK/tiny-run; dtype=fp32 ;;
    0.6B-lora)
      M=$WORK/Qwen3-0.6B
      [ -f "$M/config.json" ] || "$Q" init --preset 0.6B --out "$M" --seed 0 >/dev/null
      "$Q" train --method classifier --model "$M" --train "$WORK/train.tsv" --valid "$WORK/valid.tsv" \
        --dtype bf16 --lr 1e-3 --lora-r 16 --lora-alpha 32 --batch-size 8 --max-steps 60 --max-length 64 \
        --quiet --overwrite --out "$WORK/lora-run" >/dev/null
      run=$WORK/lora-run; dtype=bf16 ;;
    *) echo "unknown benchmark '$b' (tiny-full, 0.6B-lora)" >&2; exit 2 ;;
  esac
  echo "$b: validation $(python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print({k: round(v, 4) for k, v in m.get('valid', {}).items() if isinstance(v, float)})" "$run/manifest.json")"
  "$PY" bench/peer_llamacpp_gguf.py --qsenti "$Q" --run "$run" --texts 500 --types q8_0 --qsenti-dtype "$dtype" \
    --agreement-only --threads 2
done
