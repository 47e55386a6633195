#!/usr/bin/env bash
# Prints the table of docs/errors.md: each kind of bad input, the command that
# meets it, its exit code and the message a user sees. Run from the checkout
# after a build: bash docs/make_error_table.sh [build/qsenti] > /tmp/table.md
set -uo pipefail
Q=$(realpath "${1:-build/qsenti}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
TINY=$SRC/tests/fixtures/refs/tiny-qwen3
printf '今天很好\t1\n今天很差\t0\n' > ok.tsv
for i in $(seq 1 20); do printf '好%d\t1\n差%d\t0\n' "$i" "$i"; done > data.tsv
"$Q" train --method classifier --model "$TINY" --train data.tsv --out run --epochs 1 --batch-size 8 --lora-r 2 \
  --lora-alpha 4 --max-length 8 --dtype fp32 --quiet > /dev/null 2>&1

row() {  # area, what, command...
  local area=$1 what=$2
  shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null)
  rc=$?
  out=$(printf '%s' "$out" | grep -v '^Run with --help' | head -3 | tr '\n' ' ' |
        sed -e "s|$T/||g" -e "s|$SRC/||g" -e 's/|/\\|/g' -e 's/ *$//')
  printf '| %s | %s | `%s` | %s | %s |\n' "$area" "$what" \
    "$(echo "${@:2}" | sed -e "s|$T/||g" -e "s|$SRC/||g" -e "s|$Q|qsenti|g")" "$rc" "$out"
}

echo '| area | bad input | command | exit | message |'
echo '|---|---|---|---|---|'
# data
row data "missing file" "$Q" train --method classifier --model "$TINY" --train nothing.tsv --out r1
printf '好\t1\n坏\n' > nolabel.tsv
row data "row without a label" "$Q" train --method classifier --model "$TINY" --train nolabel.tsv --out r1
printf '好\t1\n\t0\n' > notext.tsv
row data "empty text" "$Q" train --method classifier --model "$TINY" --train notext.tsv --out r1
printf '好\t1\n\xff\t0\n' > utf8.tsv
row data "invalid UTF-8" "$Q" train --method classifier --model "$TINY" --train utf8.tsv --out r1
{ cat data.tsv; printf '中\t7\n'; } > stray.tsv
row data "a stray label (7 among 0/1)" "$Q" train --method classifier --model "$TINY" --train stray.tsv --out r1
{ cat data.tsv; printf '中\tgood\n'; } > stray2.tsv
row data "a stray label (good among 0/1)" "$Q" train --method classifier --model "$TINY" --train stray2.tsv --out r1
printf '好\t1\n也好\t1\n' > one.tsv
row data "one class only" "$Q" train --method classifier --model "$TINY" --train one.tsv --out r1
printf 'label,review\n1,"unclosed\n' > bad.csv
row data "CSV with an unclosed quote" "$Q" train --method classifier --model "$TINY" --train bad.csv --out r1
printf 'foo,bar\n1,2\n' > nocol.csv
row data "CSV without a text column" "$Q" train --method classifier --model "$TINY" --train nocol.csv --out r1
printf '{"text": "好", "label": 1}\n{"text": \n' > bad.jsonl
row data "JSON lines: a broken line" "$Q" train --method classifier --model "$TINY" --train bad.jsonl --out r1
printf '好\tneutral\n' > evalbad.tsv
row data "eval: a label the run does not have" "$Q" eval --run run --data evalbad.tsv
# models
mkdir -p nomodel
row model "folder without config.json" "$Q" train --method classifier --model nomodel --train data.tsv --out r1
cp -r "$TINY" broken && printf 'not a safetensors file' > broken/model.safetensors
row model "corrupt safetensors" "$Q" train --method classifier --model broken --train data.tsv --out r1
cp -r "$TINY" badcfg && printf '{"hidden_size": "big"' > badcfg/config.json
row model "malformed config.json" "$Q" train --method classifier --model badcfg --train data.tsv --out r1
printf '{"model": {"type": "BPE"' > tok.json
row model "malformed tokenizer.json" sh -c "echo x | '$Q' tokenize --tokenizer tok.json"
# runs
mkdir -p norun
row run "folder without manifest.json" "$Q" predict --run norun --text 好
row run "resume: no checkpoint" "$Q" train --resume norun
cp -r run moved && sed -i 's|"base_model": "[^"]*"|"base_model": "/gone/model"|' moved/manifest.json
row run "adapter's base model moved" "$Q" predict --run moved --text 好
cp -r "$TINY" base2
"$Q" train --method classifier --model base2 --train data.tsv --out runc --epochs 1 --batch-size 8 --lora-r 2 \
  --lora-alpha 4 --max-length 8 --dtype fp32 --quiet > /dev/null 2>&1
"$Q" init --preset tiny --dtype fp32 --seed 9 --overwrite --out base2 > /dev/null 2>&1
row run "adapter's base model changed" "$Q" predict --run runc --text 好
printf '好\n坏\n' > texts.txt
"$Q" predict --run run --file texts.txt --out p.jsonl --stop-after-batches 1 --batch-size 1 --quiet > /dev/null 2>&1
printf '坏\n' > other.txt
row run "a .partial of another job" "$Q" predict --run run --file other.txt --out p.jsonl --quiet
# adapters
cp -r run badad && printf '{"r": "x"}' > badad/adapter/adapter_config.json
row adapter "malformed adapter_config.json" "$Q" predict --run badad --text 好
cp -r run shapes && "$Q" init --preset tiny --dtype fp32 --seed 1 --out other-shape > /dev/null 2>&1 \
  && python3 - "$T/shapes/manifest.json" <<'PY' 2>/dev/null
import json, sys
p = sys.argv[1]; m = json.load(open(p)); m["base_model_fingerprint"] = ""; json.dump(m, open(p, "w"))
PY
row adapter "adapter on another base (--base)" "$Q" predict --run shapes --base other-shape --text 好
# command line
row options "a negative learning rate" "$Q" train --method classifier --model "$TINY" --train data.tsv --lr -1
row options "zero batch size" "$Q" train --method classifier --model "$TINY" --train data.tsv --batch-size 0
row options "warm-up share above 1" "$Q" train --method classifier --model "$TINY" --train data.tsv --warmup-ratio 2
row options "an option the method ignores" "$Q" train --method embedding --model "$TINY" --train data.tsv --grad-accum 4
row options "an existing run in --out" "$Q" train --method classifier --model "$TINY" --train data.tsv --out run
row options "an existing model in --out" "$Q" init --preset tiny --out base2
row options "predict --out is a folder" "$Q" predict --run run --file texts.txt --out norun
row options "fp16" "$Q" predict --run run --text 好 --dtype fp16
row options "a GPU that is not there" "$Q" predict --run run --text 好 --device cuda:3
mkdir -p models && cp -r run models/classifier-a && cp -r run models/classifier-b
row options "texts piped with several runs, none chosen" sh -c "printf '好\\n' | '$Q' predict --models-dir models"
