#!/usr/bin/env bash
# The GPU check: one command for an NVIDIA machine that has Python torch 2.x,
# nvcc, CMake and ninja but no package registry (the `device` tool's H200).
# Before it travels, run scripts/fetch-gpu-deps.sh where Debian answers: the
# other build dependencies go along as .deb files in .gpu-deps/ and are
# unpacked here with dpkg -x (or ar + tar) into a prefix.
#
#   scripts/gpu_check.sh [--device cuda] [--presets "0.6B 4B 8B"] [--train-steps 200]
#                        [--bench-steps 10] [--build-dir build-gpu] [--summary FILE]
#
# Steps, each under its own time limit, all inside ~9 minutes on the H200:
#   1. build qsenti against this python's torch with all cores;
#   2. the reference tests on the device (fp32 within 1e-4, bf16 within the
#      recorded drift), fused and explicit attention;
#   3. train C (LoRA) and B for --train-steps on the bundled data on a random
#      0.6B (tiny with --presets tiny), then predict;
#   4. per preset: forward, LoRA training (and full for <= 4B) tokens/s, MFU
#      and peak memory, beside transformers + peft on the same model folder,
#      texts, batch and length (bench/peer_train_hf.py);
#   5. one summary JSON ($OUT/gpu_check.json under the device tool).
# Dry run on a CPU: scripts/gpu_check.sh --device cpu --presets tiny --build-dir build-torch2
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
DEVICE=cuda PRESETS="0.6B 4B 8B" TRAIN_STEPS=200 BENCH_STEPS=10 BUILD=build-gpu SUMMARY=""
PY=${PYTHON:-python3}
while (($#)); do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --presets) PRESETS=$2; shift 2 ;;
    --train-steps) TRAIN_STEPS=$2; shift 2 ;;
    --bench-steps) BENCH_STEPS=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --summary) SUMMARY=$2; shift 2 ;;
    *) echo "gpu_check: unknown argument $1" >&2; exit 2 ;;
  esac
done
R=$SRC/$BUILD/gpu_check
mkdir -p "$R"
SUMMARY=${SUMMARY:-${OUT:+$OUT/gpu_check.json}}
SUMMARY=${SUMMARY:-$R/gpu_check.json}
LOG=$R/log.txt
: > "$LOG"
T_START=$(date +%s)
log() { echo "[gpu_check +$(($(date +%s) - T_START))s] $*" | tee -a "$LOG" >&2; }
# Each step's result: a JSON file in $R/steps/, gathered at the end (also on failure).
mkdir -p "$R/steps"
rm -f "$R"/steps/*.json
step_json() { echo "$2" > "$R/steps/$1.json"; }
# run_step NAME LIMIT_S CMD...: output to $R/NAME.log, status and seconds recorded.
run_step() {
  local name=$1 limit=$2; shift 2
  local t0; t0=$(date +%s)
  log "$name: $*"
  timeout "$limit" "$@" > "$R/$name.log" 2>&1
  local rc=$?
  local dt=$(($(date +%s) - t0))
  if [ $rc -ne 0 ]; then
    log "$name: FAILED (rc $rc after ${dt}s; the tail of $R/$name.log:)"
    tail -5 "$R/$name.log" | tee -a "$LOG" >&2
  fi
  step_json "$name" "{\"rc\": $rc, \"seconds\": $dt}"
  return $rc
}
finish() {
  "$PY" - "$R" "$SUMMARY" "$DEVICE" "$PRESETS" <<'PYEOF'
import glob, json, os, sys
r, out, device, presets = sys.argv[1:5]
s = {"device": device, "presets": presets.split(), "steps": {}, "bench": {}}
for f in sorted(glob.glob(os.path.join(r, "steps", "*.json"))):
    s["steps"][os.path.basename(f)[:-5]] = json.load(open(f))
for f in sorted(glob.glob(os.path.join(r, "bench-*.json"))):
    try:
        s["bench"][os.path.basename(f)[6:-5]] = json.load(open(f))
    except Exception as e:
        s["bench"][os.path.basename(f)[6:-5]] = {"error": str(e)}
import re
for f in sorted(glob.glob(os.path.join(r, "bench-forward-*.log"))):
    m = re.search(r"throughput\s+([0-9.]+) tokens/s", open(f).read())
    if m:
        s["bench"][os.path.basename(f)[6:-4]] = {"tokens_per_s": float(m.group(1))}
for name in ("system", "tests"):
    p = os.path.join(r, name + ".json")
    if os.path.exists(p):
        try:
            j = json.load(open(p))
            s[name] = j if name == "system" else {k: j.get(k) for k in ("tests", "failures", "disabled", "errors", "time")}
        except Exception as e:
            s[name] = {"error": str(e)}
for run in ("runC", "runB"):
    p = os.path.join(r, run, "manifest.json")
    if os.path.exists(p):
        m = json.load(open(p))
        s.setdefault("training", {})[run] = {"metrics": m.get("metrics"), "method": m.get("method")}
# transformers + peft side by side: ratios where both sides ran
for key, v in list(s["bench"].items()):
    if key.startswith("peer-"):
        ours = s["bench"].get(key[5:])
        if ours and "tokens_per_s" in ours and "tokens_per_s" in v and v["tokens_per_s"]:
            s.setdefault("ratios", {})[key[5:]] = ours["tokens_per_s"] / v["tokens_per_s"]
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
tmp = out + ".tmp"
json.dump(s, open(tmp, "w"), indent=2)
os.replace(tmp, out)
print(json.dumps({"summary": out, "steps": {k: v["rc"] for k, v in s["steps"].items()}, "ratios": s.get("ratios")}))
PYEOF
}
trap finish EXIT

# ---------------------------------------------------------------- 1. build
TORCH_ROOT=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))') || { log "no torch in $PY"; exit 1; }
CMAKE_ARGS=("-DCMAKE_PREFIX_PATH=$TORCH_ROOT")
if ls .gpu-deps/*.deb >/dev/null 2>&1; then
  ROOT=$SRC/.gpu-deps/root
  if [ ! -d "$ROOT/usr" ]; then
    mkdir -p "$ROOT"
    for d in .gpu-deps/*.deb; do
      if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$d" "$ROOT"
      else (cd "$ROOT" && ar p "$SRC/$d" "$(ar t "$SRC/$d" | grep '^data.tar')" | tar -x --auto-compress 2>/dev/null ||
            ar p "$SRC/$d" "$(ar t "$SRC/$d" | grep '^data.tar')" | tar -xJ); fi
    done
  fi
  LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig:$ROOT/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$ROOT
  export CPATH=$ROOT/usr/include${CPATH:+:$CPATH}
  CMAKE_ARGS=("-DCMAKE_PREFIX_PATH=$TORCH_ROOT;$ROOT/usr" "-DCMAKE_LIBRARY_PATH=$LIBDIR" "-DICU_ROOT=$ROOT/usr"
              "-DGTest_DIR=$LIBDIR/cmake/GTest")
  command -v pkg-config >/dev/null || CMAKE_ARGS+=("-DPKG_CONFIG_EXECUTABLE=$ROOT/usr/bin/pkgconf")
  log "dependencies unpacked into $ROOT"
fi
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
[ -z "$NVCC" ] || CMAKE_ARGS+=("-DCMAKE_CUDA_COMPILER=$NVCC")
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  run_step configure 120 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "${CMAKE_ARGS[@]}" \
    -DQSENTI_INTEROP_PYTHON="$(command -v "$PY")" || exit 1
fi
run_step build 300 cmake --build "$BUILD" -j "$(nproc)" --target qsenti qsenti_tests bench_train bench_forward || exit 1
Q=$SRC/$BUILD/qsenti
"$Q" info --system --json > "$R/system.json" 2>/dev/null
"$Q" info --system | head -8 | tee -a "$LOG" >&2

# ------------------------------------------------------ 2. reference tests
FILTER='*Qwen3Reference*:Device*:Compat*:MemoryPlan*:SystemInfo*'
QSENTI_TEST_DEVICE=$DEVICE run_step tests 120 "$BUILD/qsenti_tests" --gtest_filter="$FILTER" \
  --gtest_output="json:$R/tests.json"
QSENTI_TEST_DEVICE=$DEVICE QSENTI_ATTENTION=explicit run_step tests_explicit_attention 120 "$BUILD/qsenti_tests" \
  --gtest_filter='*Qwen3Reference*'

# ------------------------------------------- 3. train C and B, then predict
SMALL=0.6B
case " $PRESETS " in *" tiny "*) SMALL=tiny ;; esac
DATA=$SRC/data/weibo2018/train.tsv
head -201 "$DATA" > "$R/predict.tsv"
M=$R/model-$SMALL
[ -f "$M/config.json" ] || run_step init-$SMALL 180 "$Q" init --preset $SMALL --out "$M" --seed 1
rm -rf "$R/runC" "$R/runB"
run_step train_C 150 "$Q" train --method classifier --model "$M" --train "$DATA" --out "$R/runC" \
  --max-steps "$TRAIN_STEPS" --eval-every "$TRAIN_STEPS" --device "$DEVICE" --quiet &&
  run_step predict_C 60 "$Q" predict --run "$R/runC" --file "$R/predict.tsv" --out "$R/predict_C.jsonl" --device "$DEVICE" --quiet
run_step train_B 150 "$Q" train --method lora --model "$M" --train "$DATA" --out "$R/runB" \
  --max-steps "$TRAIN_STEPS" --eval-every "$TRAIN_STEPS" --device "$DEVICE" --quiet &&
  run_step predict_B 60 "$Q" predict --run "$R/runB" --file "$R/predict.tsv" --out "$R/predict_B.jsonl" --device "$DEVICE" --quiet

# ------------------------------------------------------------ 4. benchmarks
# The H200's dense bf16 peak (989 TFLOP/s) for MFU; QSENTI_PEAK_TFLOPS overrides.
[ "$DEVICE" = cpu ] || export QSENTI_PEAK_TFLOPS=${QSENTI_PEAK_TFLOPS:-989}
for P in $PRESETS; do
  M=$R/model-$P
  [ -f "$M/config.json" ] || run_step init-$P 240 "$Q" init --preset "$P" --out "$M" --seed 1 || continue
  case $P in 8B) RANK=64 ;; 4B) RANK=32 ;; *) RANK=16 ;; esac
  run_step bench-forward-$P 90 "$BUILD/bench_forward" --model "$M" --device "$DEVICE" --batch 16 --batches 6 \
    --threads "$(nproc)"
  "$PY" bench/peer_train_hf.py --model "$M" --data "$DATA" --device "$DEVICE" --batch 16 --steps 6 --warmup 1 \
    --forward-only > "$R/bench-peer-forward-$P.json" 2> "$R/peer-forward-$P.log" || log "peer forward $P failed"
  run_step bench-lora-$P 120 "$BUILD/bench_train" --model "$M" --preset "$P" --device "$DEVICE" --lora-r "$RANK" \
    --batch 16 --max-length 128 --steps "$BENCH_STEPS" --warmup 2 --threads "$(nproc)" --json "$R/bench-lora-$P.json"
  "$PY" bench/peer_train_hf.py --model "$M" --data "$DATA" --device "$DEVICE" --batch 16 --max-length 128 \
    --lora-r "$RANK" --steps "$BENCH_STEPS" --warmup 2 > "$R/bench-peer-lora-$P.json" 2> "$R/peer-lora-$P.log" ||
    log "peer lora $P failed"
  if [ "$P" = 8B ]; then
    # The 24 GB card target: r 64, bf16 base, checkpointing, batch 4 x 256.
    run_step bench-lora24-$P 120 "$BUILD/bench_train" --model "$M" --preset "$P" --device "$DEVICE" --lora-r 64 \
      --batch 4 --max-length 256 --grad-checkpointing --steps "$BENCH_STEPS" --warmup 2 --json "$R/bench-lora24-$P.json"
  elif [ "$P" != tiny ] || [ "$DEVICE" = cpu ]; then
    run_step bench-full-$P 150 "$BUILD/bench_train" --model "$M" --preset "$P" --device "$DEVICE" --full --batch 8 \
      --max-length 128 --steps "$BENCH_STEPS" --warmup 2 --threads "$(nproc)" --json "$R/bench-full-$P.json"
    "$PY" bench/peer_train_hf.py --model "$M" --data "$DATA" --device "$DEVICE" --batch 8 --max-length 128 --full \
      --steps "$BENCH_STEPS" --warmup 2 > "$R/bench-peer-full-$P.json" 2> "$R/peer-full-$P.log" || log "peer full $P failed"
  fi
done
log "done"
