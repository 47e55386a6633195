#!/usr/bin/env bash
# The main job on the bundled defaults, offline, on a fresh machine:
#   1. a small random Qwen3 (qsenti init --preset tiny), in the conventional
#      folders models/Qwen3-tiny and models/Qwen3-Embedding-tiny;
#   2. methods A (embedding), C (classifier, full fine-tuning) and B (lora)
#      trained on data/weibo2018/train.tsv less 500 test rows spread over it;
#   3. each run evaluated on held-out rows of the same file (qsenti eval);
#      for a random model, expect A and C clearly above chance and B at chance;
#   4. predictions: single texts, a file (streamed, resumable) and --load-all
#      with the ensemble of all runs.
# Everything goes to runs/demo (DEMO_DIR overrides). The model is random, so the
# accuracy shows the path works, not what Qwen3 can do: real accuracy needs real
# Qwen3 weights (see the end of this script's output and README.md).
#
# About 3 minutes on 2 free cores (measured 2:37: A 0.64, C 0.77, B 0.55 test
# accuracy). Knobs (environment): DEMO_DIR, DEMO_TRAIN_ROWS (9500 = all but the
# test rows), DEMO_C_EPOCHS (2), DEMO_TEST_ROWS (500 at most), DEMO_SKIP_LORA=1
# (skip method B), DEMO_KEEP=1 (keep earlier runs), QSENTI (default build/qsenti).
set -euo pipefail
cd "$(dirname "$0")/.."

QSENTI=${QSENTI:-build/qsenti}
DEMO=${DEMO_DIR:-runs/demo}
TRAIN_ROWS=${DEMO_TRAIN_ROWS:-9500}
TEST_ROWS=${DEMO_TEST_ROWS:-500}
DATA=data/weibo2018/train.tsv
MODELS=$DEMO/models
start=$(date +%s)

step() { printf '\n==> [%s] %s\n' "$(date -u +%M:%S -d @$(( $(date +%s) - start )))" "$*"; }
run() { echo "+ qsenti ${*}"; "$QSENTI" "$@"; }

if [ ! -x "$QSENTI" ]; then
  step "building qsenti (scripts/setup.sh)"
  bash scripts/setup.sh
fi
[ -f "$DATA" ] || { echo "run_demo: $DATA is missing" >&2; exit 3; }

# A fresh start each time (DEMO_KEEP=1 keeps earlier runs and the embedding cache).
[ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$DEMO"
mkdir -p "$DEMO/data" "$MODELS"

step "data: $TRAIN_ROWS training rows and $TEST_ROWS test rows from $DATA"
# The file is sorted in blocks (its last 2,000 rows are ~90% negative), so the
# subsets take rows spread evenly over the whole file: test every 20th row from
# row 3, training an even spread of the other rows; they share no row.
awk -v n="$TRAIN_ROWS" 'NR % 20 != 3 { i++; if (int(i * n / 9500) > int((i - 1) * n / 9500)) print }' \
  "$DATA" > "$DEMO/data/train.tsv"
awk -v n="$TEST_ROWS" 'NR % 20 == 3 && c < n { print; c++ }' "$DATA" > "$DEMO/data/test.tsv"
head -n 200 "$DEMO/data/test.tsv" | cut -f1 > "$DEMO/data/posts.txt"
for f in train test; do
  printf '  %-5s %5d rows (%s negative, %s positive)\n' "$f" "$(wc -l < "$DEMO/data/$f.tsv")" \
    "$(cut -f2 "$DEMO/data/$f.tsv" | grep -c '^0$')" "$(cut -f2 "$DEMO/data/$f.tsv" | grep -c '^1$')"
done

step "models: a random tiny Qwen3 (hidden 128, 4 layers, the real 151,936-token vocabulary)"
# Method A's Qwen3-Embedding has the same architecture as Qwen3, so the same
# random model serves as both base models.
[ -f "$MODELS/Qwen3-tiny/config.json" ] || run init --preset tiny --seed 7 --dtype fp32 --out "$MODELS/Qwen3-tiny"
[ -f "$MODELS/Qwen3-Embedding-tiny/config.json" ] ||
  run init --preset tiny --seed 7 --dtype fp32 --out "$MODELS/Qwen3-Embedding-tiny"

# Validation is a seeded, stratified 10% of the training rows; the test rows are
# scored afterwards with qsenti eval.
COMMON=(--train "$DEMO/data/train.tsv" --seed 42 --max-length 64 --dtype fp32)

step "method A (embedding): frozen embedding vectors + MLP head"
run train --method embedding --model "$MODELS/Qwen3-Embedding-tiny" --out "$MODELS/embedding-tiny" --overwrite \
  "${COMMON[@]}" --epochs 20 --cache-dir "$DEMO/cache"

step "method C (classifier): full fine-tuning of the tiny Qwen3 with a score head"
run train --method classifier --full --model "$MODELS/Qwen3-tiny" --out "$MODELS/classifier-tiny" --overwrite \
  "${COMMON[@]}" --epochs "${DEMO_C_EPOCHS:-2}" --batch-size 16 --lr 1e-3

if [ "${DEMO_SKIP_LORA:-0}" != 1 ]; then
  step "method B (lora): LoRA instruction tuning, answers 负面/正面"
  echo "(B teaches a language model to answer a label word; a random model has no language to build"
  echo " on, so expect chance-level accuracy here: B needs real Qwen3 weights)"
  run train --method lora --model "$MODELS/Qwen3-tiny" --out "$MODELS/lora-tiny" --overwrite \
    "${COMMON[@]}" --epochs 1 --batch-size 16 --lr 2e-3 --lora-r 8 --lora-alpha 16 --max-steps 40
fi

step "evaluation on the $TEST_ROWS held-out rows"
for run_dir in "$MODELS"/embedding-tiny "$MODELS"/classifier-tiny "$MODELS"/lora-tiny; do
  [ -f "$run_dir/manifest.json" ] || continue
  echo "--- $(basename "$run_dir")"
  run eval --run "$run_dir" --data "$DEMO/data/test.tsv" | tee "$DEMO/eval-$(basename "$run_dir").txt"
done

step "prediction: single texts"
run predict --run "$MODELS/classifier-tiny" --text "今天天气真好，心情特别愉快" --text "太失望了，再也不来了"
run predict --run "$MODELS/embedding-tiny" --text "今天天气真好，心情特别愉快" --json

step "prediction: a file, streamed in batches, written as JSON lines and CSV"
# The labels in test.tsv are copied to the output and scored.
run predict --run "$MODELS/classifier-tiny" --file "$DEMO/data/test.tsv" --out "$DEMO/predictions-classifier.jsonl"
run predict --run "$MODELS/classifier-tiny" --file "$DEMO/data/posts.txt" --format plain \
  --out "$DEMO/predictions-classifier.csv" --quiet
head -n 3 "$DEMO/predictions-classifier.csv"

step "prediction: every run and their ensemble (--load-all)"
run predict --models-dir "$MODELS" --load-all --text "今天天气真好，心情特别愉快" --text "排了两个小时的队，太失望了"
run predict --models-dir "$MODELS" --load-all --file "$DEMO/data/posts.txt" --format plain \
  --out "$DEMO/predictions-ensemble.jsonl"

elapsed=$(( $(date +%s) - start ))
cat <<MSG

==> done in $((elapsed / 60)) min $((elapsed % 60)) s. Results in $DEMO/:
  models/                      the random base models and the trained runs (manifest.json each)
  eval-<run>.txt               accuracy, F1, confusion matrix on the test rows
  predictions-*.jsonl / .csv   per-row predictions (line, text, label, probabilities)

These runs start from a RANDOM tiny model: their accuracy shows that the whole
path works, not what Qwen3 can do. For real accuracy use real Qwen3 weights, a
Hugging Face folder downloaded elsewhere (e.g. Qwen/Qwen3-0.6B and
Qwen/Qwen3-Embedding-0.6B):
  put it in models/Qwen3-0.6B (models/Qwen3-Embedding-0.6B for method A), then
    $QSENTI train --method classifier --model-size 0.6B --train $DATA
    $QSENTI predict --method classifier --model-size 0.6B --text "今天天气真好"
  or point at it:  $QSENTI train --method embedding --model /path/to/Qwen3-Embedding-0.6B --train $DATA
Try the interactive loop:  $QSENTI predict --models-dir $MODELS
MSG
