#!/usr/bin/env bash
# Data-parallel cost: the same training as 1 process (global batch B) and as
# 2 workers (B/2 each), on this host; prints per step the whole step, the time
# it waited for the gradient all-reduce (its share of the step) and the bytes
# all-reduced, from each run's manifest.json (metrics.training).
#   bash bench/dist_allreduce.sh [tiny-full] [0.6B-lora]
# The 0.6B model is a random one in the real shapes (qsenti init), made once.
# On 2 cores the 2-worker runs have 1 thread each: a speed-up is not the point
# here, the communication's share is.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
Q=$BUILD_DIR/qsenti
[ -x "$Q" ] || bash scripts/setup.sh
WORK=${QSENTI_BENCH_DIR:-$BUILD_DIR/bench-dist}
mkdir -p "$WORK"
head -n 400 data/weibo2018/train.tsv > "$WORK/train.tsv"
sed -n 9001,9016p data/weibo2018/train.tsv > "$WORK/valid.tsv"
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(tiny-full 0.6B-lora)

report() {  # run-folder label
  python3 - "$1" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1] + "/manifest.json"))["metrics"]["training"]
step, comm = t["step_ms"], t["allreduce_ms_per_step"]
share = 100 * comm / step if step else 0
print(f"{sys.argv[2]:28s} workers {t['world_size']}  step {step:9.1f} ms  all-reduce wait {comm:8.2f} ms "
      f"({share:4.1f}% of the step)  {t['allreduce_bytes_per_step'] / 2**20:8.2f} MiB/step  steps {t['steps']}")
PY
}

for b in "${which[@]}"; do
  case "$b" in
    tiny-full)
      M=$WORK/tiny
      [ -f "$M/config.json" ] || "$Q" init --preset tiny --out "$M" --seed 0 >/dev/null
      common="--method classifier --full --model $M --train $WORK/train.tsv --valid $WORK/valid.tsv --dtype fp32
              --lr 1e-3 --max-length 64 --max-steps 20 --quiet --overwrite"
      "$Q" train $common --batch-size 16 --threads 2 --out "$WORK/tiny-1" >/dev/null
      "$Q" train $common --batch-size 8 --nproc-per-node 2 --out "$WORK/tiny-2" >/dev/null 2>&1
      report "$WORK/tiny-1" "tiny, full, global batch 16"
      report "$WORK/tiny-2" "tiny, full, global batch 16" ;;
    0.6B-lora)
      M=$WORK/Qwen3-0.6B
      [ -f "$M/config.json" ] || "$Q" init --preset 0.6B --out "$M" --seed 0 >/dev/null
      common="--method classifier --model $M --train $WORK/train.tsv --valid $WORK/valid.tsv --dtype bf16
              --lora-r 16 --lora-alpha 32 --max-length 64 --max-steps 4 --quiet --overwrite"
      "$Q" train $common --batch-size 4 --threads 2 --out "$WORK/lora-1" >/dev/null
      "$Q" train $common --batch-size 2 --nproc-per-node 2 --out "$WORK/lora-2" >/dev/null 2>&1
      report "$WORK/lora-1" "0.6B, LoRA r16, global batch 4"
      report "$WORK/lora-2" "0.6B, LoRA r16, global batch 4" ;;
    *) echo "unknown benchmark '$b' (tiny-full, 0.6B-lora)" >&2; exit 2 ;;
  esac
done
