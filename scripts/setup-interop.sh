#!/usr/bin/env bash
# Makes (or reuses) the virtual environment of the interop tests: torch 2.x,
# transformers, peft, safetensors, tokenizers, selenium and modelscope from PyPI, pinned in
# scripts/interop-requirements.txt. Prints the environment's python on stdout.
#
#   QSENTI_INTEROP_VENV   where it lives (default ~/.cache/qsenti/interop-venv,
#                         outside the checkout so that clean clones share it)
#
# Safe to run again: it reinstalls only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${QSENTI_INTEROP_VENV:-$HOME/.cache/qsenti/interop-venv}
# The browser check (check_web_page.py) drives Debian's chromium; the CJK font
# lets its screenshots show the posts.
browser=()
for p in chromium chromium-driver fonts-noto-cjk; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || browser+=("$p")
done
if ((${#browser[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup-interop: installing ${browser[*]}" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${browser[@]}" >&2
fi
REQ=scripts/interop-requirements.txt
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.qsenti-req" 2>/dev/null)" = "$want" ]; then
  echo "$VENV/bin/python"
  exit 0
fi
PY=$(command -v python3)
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >&2
  PY=/usr/bin/python3
fi
echo "setup-interop: creating $VENV (torch, transformers, peft; a few minutes the first time)" >&2
# The marker is written last: an interrupted install is redone, not trusted.
rm -f "$VENV/.qsenti-req"
"$PY" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
"$VENV/bin/python" -m pip install -q -r "$REQ" >&2
"$VENV/bin/python" -c 'import torch, transformers, peft, safetensors, tokenizers, selenium, modelscope' >&2
echo "$want" > "$VENV/.qsenti-req"
echo "$VENV/bin/python"
