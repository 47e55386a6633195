#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) into build-fuzz/
# and runs them.
#
#   scripts/fuzz.sh [--seconds N] [--replay] [TARGET...]
#
#   TARGET     safetensors config tokenizer_json tokenizer_encode dataset
#              run_files serve_request gguf hub (fuzz_ prefix optional);
#              default: all of them
#   --seconds  how long each target fuzzes (default 60), one after the other
#   --replay   no fuzzing: run each committed seed once (a quick check that
#              the parsers still take their corpus and known crashers cleanly),
#              then a subset of the unit suite built with the same sanitizers
#              (sanitized_unit_tests; QSENTI_SANITIZED_UNITS=0 leaves it out)
#
# Each target fuzzes a fresh copy of fuzz/corpus/<target>/ in
# build-fuzz/run/<target>/ (the committed corpus is never written to). One
# line per target: "fuzz TARGET: N execs in S s, cov C, ft F, OK|CRASH"; a
# crash leaves its input in build-fuzz/run/<target>/ (path printed) and makes
# the script exit 1.
#   JOBS         compile jobs (default: the cores)
#   QSENTI_LOCK  a lock file: each build and each target's run holds it
#                (flock), so shared machines run one heavy job at a time
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=60
REPLAY=0
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_EACH=${2:?--seconds needs a number}; shift 2 ;;
    --seconds=*) SECONDS_EACH=${1#*=}; shift ;;
    --replay) REPLAY=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option '$1'" >&2; exit 2 ;;
    *) TARGETS+=("${1#fuzz_}"); shift ;;
  esac
done
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || { echo "fuzz: --seconds wants a whole number, got '$SECONDS_EACH'" >&2; exit 2; }

ALL=(safetensors config tokenizer_json tokenizer_encode dataset run_files serve_request gguf hub)
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
  [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz: no target '$t' (have: ${ALL[*]})" >&2; exit 2; }
done

# Inputs longer than the formats need only slow the fuzzer down; the
# tokenizer.json seeds are 4 KB (the 256 byte tokens), so it gets more.
max_len() {
  case "$1" in
    tokenizer_json) echo 16384 ;;
    tokenizer_encode|serve_request) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

locked() {
  if [ -n "${QSENTI_LOCK:-}" ]; then flock "$QSENTI_LOCK" "$@"; else "$@"; fi
}

# ---- clang and its sanitizer runtimes (as scripts/setup.sh installs its packages)
PACKAGES=(clang-14 libclang-rt-14-dev cmake ninja-build pkg-config libtorch-dev nlohmann-json3-dev
          libpcre2-dev libicu-dev libcurl4-openssl-dev libssl-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- build
BUILD=build-fuzz
LAUNCHER=()
if command -v ccache >/dev/null; then
  # The main build's ccache settings: paths relative to the checkout, so
  # worktrees and clean clones share the objects.
  LAUNCHER=("-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$PWD;CCACHE_NOHASHDIR=1;ccache")
fi
cmake -S fuzz -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE= "${LAUNCHER[@]}" >/dev/null
bins=()
for t in "${TARGETS[@]}"; do bins+=("fuzz_$t"); done
locked cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target "${bins[@]}"

# ---- run
# UBSan stops at its first report with a stack; ASan's leak check stays on.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
# LibTorch's own thread pools would only add noise to one-input-at-a-time runs.
export OMP_NUM_THREADS=1

failed=0
for t in "${TARGETS[@]}"; do
  bin=$BUILD/fuzz_$t
  run=$BUILD/run/$t
  rm -rf "$run"
  mkdir -p "$run/corpus"
  cp fuzz/corpus/"$t"/* "$run/corpus/"
  log=$run/log.txt
  flags=(-timeout=10 -rss_limit_mb=4096 "-max_len=$(max_len "$t")" "-artifact_prefix=$run/")
  rc=0
  if ((REPLAY)); then
    locked "$bin" "${flags[@]}" "$run"/corpus/* >"$log" 2>&1 || rc=$?
    n=$(find "$run/corpus" -type f | wc -l)
    summary="replayed $n seeds"
  else
    locked "$bin" "${flags[@]}" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$run/corpus" >"$log" 2>&1 || rc=$?
    # libFuzzer's own count and time (waiting for QSENTI_LOCK not included).
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    summary="${execs:-0} execs in ${took:-?} s, cov ${cov:-?}, ft ${ft:-?}"
  fi
  if ((rc == 0)); then
    echo "fuzz $t: $summary, OK"
  else
    failed=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz $t: $summary, CRASH (exit $rc) ${crash:+input $crash, }log $log"
    grep -m1 -E 'ERROR: |runtime error:|FUZZ_CHECK failed|uncaught exception' "$log" | sed 's/^/    /' || true
  fi
done
# ---- the unit subset under the same sanitizers (fuzz/CMakeLists.txt)
if ((REPLAY)) && [ "${QSENTI_SANITIZED_UNITS:-1}" = 1 ]; then
  if locked cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target sanitized_unit_tests >"$BUILD/unit-build.log" 2>&1; then
    log=$BUILD/unit-tests.log
    # Cli.* run the qsenti binary, which this build does not make.
    if locked "$BUILD/sanitized_unit_tests" --gtest_filter='-Cli.*' >"$log" 2>&1; then
      echo "sanitized unit tests: $(grep -E '^\[  PASSED  \]' "$log" | sed 's/\[  PASSED  \] //'), OK"
    else
      failed=1
      echo "sanitized unit tests: FAILED, log $log"
      grep -E 'FAILED|ERROR: |runtime error:' "$log" | head -20 | sed 's/^/    /' || true
    fi
  else
    failed=1
    echo "sanitized unit tests: the build failed, log $BUILD/unit-build.log"
  fi
fi
exit "$failed"
