"""qsenti download --source modelscope fills the cache the modelscope SDK reads.

A mock ModelScope (http.server on 127.0.0.1: the SDK's file listing
`/api/v1/models/<owner>/<name>/repo/files` and file endpoint
`/api/v1/models/<owner>/<name>/repo?FilePath=`, big files redirected to a
second server standing for the object store) serves a small repo whose name
has a dot (the SDK writes it as ___ on disk). Checked with the real SDK
(`modelscope` and `modelscope_hub` from PyPI):

1. with MODELSCOPE_CACHE set: `qsenti download` fills it; snapshot_download and
   model_file_download with local_files_only=True find every file in qsenti's
   folder (and ask the mock for nothing); snapshot_download online reuses the
   folder and fetches no file again;
2. with the default cache (~/.cache/modelscope/hub under a fresh HOME): the
   same folder is found offline;
3. the other direction: what the SDK downloaded itself (since 1.40 into
   models/<owner>--<name>/snapshots/<revision>/) qsenti finds offline, with
   no request to the mock.

The SDK reads its environment when imported, so each step runs in a child
python with the environment it needs.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import CheckFailure  # noqa: E402

REPO = "org/tiny.model"
DISK_NAME = "tiny___model"  # the SDK's folder name: each '.' as ___


def make_files():
    rnd = bytes((i * 7919 + 13) % 251 for i in range(700_000))
    return {
        "config.json": b'{"model_type": "qwen3", "hidden_size": 64}\n',
        "configuration.json": b'{"framework": "pytorch", "task": "text-generation"}\n',
        "model.safetensors": rnd,
        "nested/dir/weights.bin": rnd[:12345],
    }


class MockModelScope:
    """The API on one port, the object store on another; counts what each serves."""

    def __init__(self, files):
        self.files = files
        self.requests = 0
        self.file_gets = 0
        self.store_bytes = 0
        self.lock = threading.Lock()
        self.api = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(self._api_route))
        self.store = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(self._store_route))
        for s in (self.api, self.store):
            threading.Thread(target=s.serve_forever, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.api.server_address[1]}"

    def close(self):
        for s in (self.api, self.store):
            s.shutdown()
            s.server_close()

    def _handler(self, route):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with mock.lock:
                    mock.requests += 1
                route(self)

        return Handler

    @staticmethod
    def _send(h, status, headers=(), body=b""):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _refuse(self, h, status, message):
        body = json.dumps({"Code": 10010205001, "Message": message, "Success": False}).encode()
        return self._send(h, status, [("Content-Type", "application/json")], body)

    def _api_route(self, h):
        u = urlsplit(h.path)
        q = parse_qs(u.query)
        base = f"/api/v1/models/{REPO}/repo"
        if u.path == base + "/files":
            if q.get("Revision") != ["master"]:
                return self._refuse(h, 404, "revision not found")
            files = [{"Path": p, "Name": p.rsplit("/", 1)[-1], "Type": "blob", "Size": len(d),
                      "Sha256": hashlib.sha256(d).hexdigest(), "Revision": "0123abcd"} for p, d in self.files.items()]
            files.insert(0, {"Path": "nested", "Name": "nested", "Type": "tree", "Size": 0})
            body = json.dumps({"Code": 200, "Data": {"Files": files}, "Message": "success", "Success": True})
            return self._send(h, 200, [("Content-Type", "application/json")], body.encode())
        if u.path == base:
            with self.lock:
                self.file_gets += 1
            path = q.get("FilePath", [""])[0]
            if path not in self.files:
                return self._refuse(h, 404, "file not found")
            data = self.files[path]
            if len(data) > 100_000:  # as ModelScope does for big files: to the object store
                loc = f"http://127.0.0.1:{self.store.server_address[1]}/oss/{hashlib.sha256(data).hexdigest()}?Signature=x"
                return self._send(h, 302, [("Location", loc)])
            return self._send(h, 200, [("Content-Type", "application/octet-stream")], data)
        # Anything else the SDK asks (revisions, acceleration info) it does without.
        return self._refuse(h, 404, "not mocked: " + u.path)

    def _store_route(self, h):
        oid = urlsplit(h.path).path.rsplit("/", 1)[-1]
        match = [d for d in self.files.values() if hashlib.sha256(d).hexdigest() == oid]
        if not match:
            return self._send(h, 404)
        data = match[0]
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            body, status = data[start:], 206
            headers = [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")]
        else:
            body, headers, status = data, [], 200
        with self.lock:
            self.store_bytes += len(body)
        return self._send(h, status, headers, body)


MS_SNIPPET = r"""
import json, sys
from modelscope import snapshot_download, model_file_download
repo, files, online = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
# revision given: without it model_file_download asks the API for the latest
# release even with local_files_only (and carries on when that fails).
out = {"snapshot": str(snapshot_download(repo, revision="master", local_files_only=True)),
       "files": {f: str(model_file_download(repo, f, revision="master", local_files_only=True)) for f in files}}
if online:
    out["online"] = str(snapshot_download(repo))
print(json.dumps(out))
"""


def run_ms(env, files, online):
    proc = subprocess.run([sys.executable, "-c", MS_SNIPPET, REPO, json.dumps(files), "1" if online else "0"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if proc.returncode != 0:
        raise CheckFailure("modelscope failed: " + proc.stderr.decode("utf-8", "replace")[-2000:])
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def base_env(home, endpoint, cache=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELSCOPE_", "HF_", "QSENTI_MODEL_SOURCE"))}
    env.update({"HOME": str(home), "MODELSCOPE_ENDPOINT": endpoint})
    if cache is not None:
        env["MODELSCOPE_CACHE"] = str(cache)
    return env


def run_qsenti_download(qsenti, env):
    proc = subprocess.run([qsenti, "download", REPO, "--source", "modelscope", "--quiet"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=common.QSENTI_TIMEOUT_S)
    if proc.returncode != 0:
        raise CheckFailure("qsenti download failed: " + proc.stderr.decode("utf-8", "replace"))
    return proc.stdout.decode().strip()


def check_found(report, mock, got, expected, what):
    wrong = [] if Path(got["snapshot"]) == Path(expected) else [f"snapshot={got['snapshot']}"]
    for f, data in mock.files.items():
        p = got["files"].get(f)
        if Path(p) != Path(expected) / f or Path(p).read_bytes() != data:
            wrong.append(f"{f}={p}")
    report.worst(f"{what}: files modelscope did not find (local_files_only) in qsenti's folder", len(wrong), 0)
    if wrong:
        report.fail(f"{what}: {wrong}")


def check_with_cache_env(args, report, mock, tmp):
    cache = tmp / "ms-cache"
    env = base_env(tmp / "home1", mock.endpoint, cache)
    folder = run_qsenti_download(args.qsenti, env)
    expected = str(cache / "models" / "org" / DISK_NAME)
    if folder != expected:
        raise CheckFailure(f"qsenti printed {folder}, expected {expected}")
    before, gets, stored = mock.requests, mock.file_gets, mock.store_bytes
    got = run_ms(env, list(mock.files), online=False)
    report.worst("MODELSCOPE_CACHE: requests to the mock while modelscope reads offline", mock.requests - before, 0)
    check_found(report, mock, got, expected, "MODELSCOPE_CACHE")
    got = run_ms(env, list(mock.files), online=True)
    report.worst("MODELSCOPE_CACHE: files modelscope fetched again online", mock.file_gets - gets, 0)
    report.worst("MODELSCOPE_CACHE: object-store bytes modelscope fetched again online", mock.store_bytes - stored, 0)
    if Path(got["online"]) != Path(expected):
        report.fail(f"modelscope online used {got['online']}, not qsenti's {expected}")


def check_default_cache(args, report, mock, tmp):
    home = tmp / "home2"
    env = base_env(home, mock.endpoint)
    folder = run_qsenti_download(args.qsenti, env)
    expected = str(home / ".cache" / "modelscope" / "hub" / "models" / "org" / DISK_NAME)
    if folder != expected:
        raise CheckFailure(f"qsenti printed {folder}, expected {expected}")
    before = mock.requests
    got = run_ms(env, list(mock.files), online=False)
    report.worst("default cache: requests to the mock while modelscope reads offline", mock.requests - before, 0)
    check_found(report, mock, got, expected, "default cache")


SDK_DOWNLOAD = r"""
import sys
from modelscope import snapshot_download
print(snapshot_download(sys.argv[1], revision="master"))
"""


def check_qsenti_finds_sdk_download(args, report, mock, tmp):
    home = tmp / "home3"
    env = base_env(home, mock.endpoint)
    proc = subprocess.run([sys.executable, "-c", SDK_DOWNLOAD, REPO], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=300)
    if proc.returncode != 0:
        raise CheckFailure("modelscope snapshot_download failed: " + proc.stderr.decode("utf-8", "replace")[-2000:])
    sdk_dir = proc.stdout.decode().strip().splitlines()[-1]
    before = mock.requests
    env["HF_HUB_OFFLINE"] = "1"
    folder = run_qsenti_download(args.qsenti, env)
    report.worst("requests to the mock while qsenti reads the SDK's download offline", mock.requests - before, 0)
    if Path(folder).resolve() != Path(sdk_dir).resolve():
        report.fail(f"qsenti (offline) found {folder}, the SDK downloaded into {sdk_dir}")
    wrong = [f for f, data in mock.files.items() if (Path(folder) / f).read_bytes() != data]
    report.worst("files of the SDK's download that qsenti's folder lacks or differs in", len(wrong), 0)


def body(report):
    args = common.parse_args(__doc__.splitlines()[0])
    try:
        import modelscope  # noqa: F401
    except ImportError:
        raise CheckFailure("the interop environment has no modelscope: rerun scripts/setup-interop.sh")
    mock = MockModelScope(make_files())
    try:
        with tempfile.TemporaryDirectory(prefix="qsenti-interop-modelscope-") as t:
            tmp = Path(t)
            common.section(report, "MODELSCOPE_CACHE", check_with_cache_env, args, report, mock, tmp)
            common.section(report, "default cache", check_default_cache, args, report, mock, tmp)
            common.section(report, "the SDK's own download", check_qsenti_finds_sdk_download, args, report, mock, tmp)
    finally:
        mock.close()


if __name__ == "__main__":
    common.main_guard("check_modelscope", body)
