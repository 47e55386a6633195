"""Helpers shared by the interop checks (tests/interop/check_*.py).

The checks use the real Hugging Face libraries as the oracle for qsenti's
C++ answers. Each is run as

    <python> tests/interop/check_X.py --qsenti build/qsenti --source <checkout>

and exits 0 on pass, 1 on failure. Every comparison prints one line
`WORST <what> <value> (tolerance <tol>)`; the last line is `PASS check_X` or
`FAIL check_X: <reason>`.
"""
import argparse
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Before torch or tokenizers are imported by a check: two cores, and
# tokenizers' own thread pool would only fight the checks for them.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

# fp32 on both sides: differences are summation order only.
FP32_ATOL = 1e-4

QSENTI_TIMEOUT_S = 600


class CheckFailure(Exception):
    """A disagreement with the oracle or a broken precondition."""


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--qsenti", required=True, help="path to the qsenti binary")
    p.add_argument("--source", required=True, help="qsenti source checkout (fixtures, assets, data)")
    a = p.parse_args()
    a.qsenti = str(Path(a.qsenti).resolve())
    a.source = Path(a.source).resolve()
    if not os.access(a.qsenti, os.X_OK):
        p.error(f"--qsenti {a.qsenti}: not an executable file")
    if not (a.source / "CMakeLists.txt").is_file():
        p.error(f"--source {a.source}: not a qsenti checkout")
    return a


def setup_torch():
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    try:  # the per-load progress bars and advice would bury the WORST lines
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass
    return torch


def run_qsenti(qsenti, args, input_bytes=None, cwd=None, check=True):
    """Runs qsenti; on a non-zero exit raises CheckFailure quoting stderr.

    Returns the CompletedProcess (stdout/stderr as bytes). A binary being
    relinked under us ("text file busy") is retried for a while.
    """
    cmd = [qsenti] + [str(x) for x in args]
    for attempt in range(30):
        try:
            proc = subprocess.run(cmd, input=input_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  cwd=cwd, timeout=QSENTI_TIMEOUT_S)
            break
        except OSError as e:  # the linker is rewriting the binary: busy, absent or half written
            if e.errno not in (errno.ETXTBSY, errno.ENOENT, errno.ENOEXEC) or attempt == 29:
                raise
            time.sleep(2)
    if check and proc.returncode != 0:
        shown = " ".join(cmd)
        if len(shown) > 400:
            shown = shown[:400] + " ..."
        raise CheckFailure(f"`{shown}` exited with {proc.returncode}; stderr:\n"
                           + proc.stderr.decode("utf-8", "replace").strip())
    return proc


def qsenti_json(qsenti, args, **kw):
    """Runs qsenti and parses its stdout as one JSON document."""
    out = run_qsenti(qsenti, args, **kw).stdout.decode("utf-8")
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        raise CheckFailure(f"qsenti {args[0]}: stdout is not JSON ({e}): {out[:300]!r}")


def loading_problems(info):
    """The non-empty entries of from_pretrained's output_loading_info."""
    return {k: sorted(map(str, v)) for k, v in info.items() if v}


def read_safetensors(path):
    """(tensors as torch tensors, metadata dict) of a safetensors file."""
    from safetensors import safe_open

    tensors = {}
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        for name in f.keys():
            tensors[name] = f.get_tensor(name)
    return tensors, meta


class Report:
    """Collects WORST lines and failures; prints the verdict at the end."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.t0 = time.monotonic()

    def worst(self, what, value, tol, ok=None):
        """Prints `WORST what value (tolerance tol)`; records a failure when over."""
        if ok is None:
            ok = value <= tol
        value_s = f"{value:.3e}" if isinstance(value, float) else str(value)
        print(f"WORST {what} {value_s} (tolerance {tol})", flush=True)
        if not ok:
            self.failures.append(f"{what} = {value_s} exceeds {tol}")
        return ok

    def fail(self, reason):
        print(f"  failure: {reason}", flush=True)
        self.failures.append(reason)

    def finish(self):
        print(f"time {time.monotonic() - self.t0:.1f} s", flush=True)
        if self.failures:
            more = f" (and {len(self.failures) - 1} more failures above)" if len(self.failures) > 1 else ""
            print(f"FAIL {self.name}: {self.failures[0]}{more}", flush=True)
            return 1
        print(f"PASS {self.name}", flush=True)
        return 0


def section(report, what, fn, *args):
    """Runs one part of a check; a CheckFailure there is recorded and the
    other parts still run. Returns fn's result, or None when it failed."""
    try:
        return fn(*args)
    except CheckFailure as e:
        report.fail(f"{what}: {e}")
        return None


def start_server(qsenti, serve_args, log_path):
    """Starts `qsenti serve --port 0 SERVE_ARGS`, its output to log_path;
    returns (process, port) once it says where it listens."""
    import re

    log = open(log_path, "wb")
    proc = subprocess.Popen([qsenti, "serve", "--port", "0"] + [str(a) for a in serve_args],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = open(log_path, encoding="utf-8", errors="replace").read()
        m = re.search(r"listening on http://[^:]+:(\d+)/", text)
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            raise CheckFailure(f"serve exited with {proc.returncode}: {text}")
        time.sleep(0.2)
    proc.kill()
    raise CheckFailure("serve did not start listening within 120 s")


def stop_server(proc):
    """SIGTERM, as a service manager stops it; the exit code (None: killed after 30 s)."""
    proc.terminate()
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def main_guard(name, body):
    """Runs body(report); turns CheckFailure or any crash into a FAIL line."""
    report = Report(name)
    try:
        body(report)
    except CheckFailure as e:
        report.fail(str(e))
    except Exception as e:  # a crash of the check itself is a failure too, with its trace
        import traceback

        traceback.print_exc()
        report.fail(f"{type(e).__name__}: {e}")
    sys.exit(report.finish())
