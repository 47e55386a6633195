"""qsenti download and huggingface_hub share one Hugging Face cache.

A mock Hub (http.server on 127.0.0.1: the repo API, the file tree, resolve with
the real headers, LFS files redirected to a second server standing for the
CDN) serves a small repo. Both ways are checked:

1. `qsenti download` fills a cache; huggingface_hub (from PyPI) with
   HF_HUB_OFFLINE=1 finds every file there through hf_hub_download and
   snapshot_download, and asks the mock for nothing.
2. huggingface_hub downloads the repo from the same mock into another cache;
   `qsenti download` with HF_HUB_OFFLINE=1 prints that snapshot, and online it
   fetches no byte again.
The two caches hold the same blob names, links and refs.

huggingface_hub reads its environment when imported, so each of its steps runs
in a child python with the environment it needs.
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
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import CheckFailure  # noqa: E402

COMMIT = "4f1e2d3c4b5a69788796a5b4c3d2e1f001122334"
REPO = "org/tiny-model"


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_files():
    rnd = bytes((i * 7919 + 13) % 251 for i in range(700_000))
    return {
        "config.json": (b'{"model_type": "qwen3", "hidden_size": 64}\n', False),
        "tokenizer_config.json": (b'{"tokenizer_class": "Qwen2Tokenizer"}\n', False),
        "model.safetensors": (rnd, True),
        "nested/dir/weights.bin": (rnd[:12345], True),
    }


class MockHub:
    """The Hub on one port, its CDN on another; counts what each serves."""

    def __init__(self, files):
        self.files = files
        self.requests = 0
        self.cdn_bytes = 0
        self.lock = threading.Lock()
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(self._hub_route))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(self._cdn_route))
        for s in (self.hub, self.cdn):
            threading.Thread(target=s.serve_forever, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.hub.server_address[1]}"

    def close(self):
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()

    def etag(self, path):
        data, lfs = self.files[path]
        return hashlib.sha256(data).hexdigest() if lfs else git_sha1(data)

    def _handler(self, route):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with mock.lock:
                    mock.requests += 1
                route(self, head=False)

            def do_HEAD(self):
                with mock.lock:
                    mock.requests += 1
                route(self, head=True)

        return Handler

    @staticmethod
    def _send(h, status, headers=(), body=b"", head=False):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _hub_route(self, h, head):
        path = urlsplit(h.path).path
        api = f"/api/models/{REPO}/"
        if path.startswith(api + "revision/"):
            rev = unquote(path[len(api + "revision/"):])
            if rev not in ("main", COMMIT):
                return self._send(h, 404, [("X-Error-Code", "RevisionNotFound")], head=head)
            body = json.dumps({"id": REPO, "sha": COMMIT, "siblings": [{"rfilename": p} for p in self.files]})
            return self._send(h, 200, [("Content-Type", "application/json")], body.encode(), head)
        if path.startswith(api + "tree/"):
            entries = []
            for p, (data, lfs) in self.files.items():
                e = {"type": "file", "path": p, "size": len(data), "oid": git_sha1(b"pointer " + p.encode())
                     if lfs else git_sha1(data)}
                if lfs:
                    e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries.append(e)
            return self._send(h, 200, [("Content-Type", "application/json")], json.dumps(entries).encode(), head)
        prefix = f"/{REPO}/resolve/"
        if not path.startswith(prefix):
            return self._send(h, 404, [("X-Error-Code", "RepoNotFound")], head=head)
        rev, _, file = path[len(prefix):].partition("/")
        rev, file = unquote(rev), unquote(file)
        if rev not in ("main", COMMIT):
            return self._send(h, 404, [("X-Error-Code", "RevisionNotFound")], head=head)
        if file not in self.files:
            return self._send(h, 404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", COMMIT)], head=head)
        data, lfs = self.files[file]
        if lfs:
            cdn = f"http://127.0.0.1:{self.cdn.server_address[1]}/blobs/{self.etag(file)}?X-Amz-Signature=mock"
            return self._send(h, 302, [("Location", cdn), ("X-Repo-Commit", COMMIT),
                                       ("ETag", '"%s"' % git_sha1(b"pointer " + file.encode())),
                                       ("X-Linked-Etag", '"%s"' % self.etag(file)),
                                       ("X-Linked-Size", str(len(data)))], head=head)
        return self._send(h, 200, [("X-Repo-Commit", COMMIT), ("ETag", '"%s"' % self.etag(file)),
                                   ("Content-Type", "application/octet-stream")], data, head)

    def _cdn_route(self, h, head):
        oid = urlsplit(h.path).path.rsplit("/", 1)[-1]
        match = [d for p, (d, lfs) in self.files.items() if lfs and hashlib.sha256(d).hexdigest() == oid]
        if not match:
            return self._send(h, 404, head=head)
        data = match[0]
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            body = data[start:]
            headers = [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")]
            status = 206
        else:
            body, headers, status = data, [], 200
        if not head:
            with self.lock:
                self.cdn_bytes += len(body)
        return self._send(h, status, headers, body, head)


HF_SNIPPET = r"""
import json, sys
from huggingface_hub import hf_hub_download, snapshot_download, try_to_load_from_cache
repo, commit, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {"snapshot": snapshot_download(repo), "snapshot_commit": snapshot_download(repo, revision=commit),
       "files": {f: hf_hub_download(repo, f) for f in files},
       "cached": {f: try_to_load_from_cache(repo, f) for f in files}}
print(json.dumps(out))
"""


def run_hf(env, files):
    proc = subprocess.run([sys.executable, "-c", HF_SNIPPET, REPO, COMMIT, json.dumps(files)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if proc.returncode != 0:
        raise CheckFailure("huggingface_hub failed: " + proc.stderr.decode("utf-8", "replace")[-2000:])
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def base_env(cache, endpoint, offline):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_OFFLINE"))}
    env.update({"HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent / "hf-home"), "HF_ENDPOINT": endpoint,
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def run_qsenti_download(qsenti, env, extra=()):
    proc = subprocess.run([qsenti, "download", REPO, "--quiet", *extra], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=common.QSENTI_TIMEOUT_S)
    if proc.returncode != 0:
        raise CheckFailure("qsenti download failed: " + proc.stderr.decode("utf-8", "replace"))
    return proc.stdout.decode().strip()


def cache_layout(cache):
    """{relative path: link target or None} of a cache's repo folder (locks left out)."""
    root = cache / ("models--" + REPO.replace("/", "--"))
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            continue
        rel = str(p.relative_to(root))
        if rel.startswith(".no_exist") or rel.startswith("trees"):  # huggingface_hub's own extras
            continue
        out[rel] = os.readlink(p) if p.is_symlink() else None
    return out


def check_qsenti_then_hf(args, report, mock, tmp):
    cache = tmp / "q" / "hub"
    snap = run_qsenti_download(args.qsenti, base_env(cache, mock.endpoint, False))
    expected = str(cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT)
    if snap != expected:
        raise CheckFailure(f"qsenti printed {snap}, expected {expected}")
    before = mock.requests
    got = run_hf(base_env(cache, mock.endpoint, True), list(mock.files))
    report.worst("qsenti->hf: requests to the mock while huggingface_hub is offline", mock.requests - before, 0)
    wrong = [k for k in ("snapshot", "snapshot_commit") if got[k] != expected]
    for f, (data, _) in mock.files.items():
        for k in ("files", "cached"):
            p = got[k].get(f)
            if p != f"{expected}/{f}" or Path(p).read_bytes() != data:
                wrong.append(f"{k}:{f}={p}")
    report.worst("qsenti->hf: files huggingface_hub did not find (offline) in qsenti's cache", len(wrong), 0)
    if wrong:
        report.fail(f"huggingface_hub offline: {wrong}")
    return cache


def check_hf_then_qsenti(args, report, mock, tmp, qsenti_cache):
    cache = tmp / "h" / "hub"
    online = base_env(cache, mock.endpoint, False)
    got = run_hf(online, list(mock.files))
    expected = str(cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT)
    if got["snapshot"] != expected:
        raise CheckFailure(f"huggingface_hub's snapshot is {got['snapshot']}, expected {expected}")
    before = mock.requests
    snap = run_qsenti_download(args.qsenti, base_env(cache, mock.endpoint, True))
    report.worst("hf->qsenti: requests to the mock while qsenti is offline", mock.requests - before, 0)
    report.worst("hf->qsenti: qsenti offline found huggingface_hub's snapshot", 0 if snap == expected else 1, 0)
    if snap != expected:
        report.fail(f"qsenti offline printed {snap}, expected {expected}")
    cdn_before = mock.cdn_bytes
    snap = run_qsenti_download(args.qsenti, online)
    report.worst("hf->qsenti: CDN bytes qsenti fetched again online", mock.cdn_bytes - cdn_before, 0)
    if snap != expected:
        report.fail(f"qsenti online printed {snap}, expected {expected}")
    a, b = cache_layout(qsenti_cache), cache_layout(cache)
    diff = sorted(set(a.items()) ^ set(b.items()))
    report.worst("cache entries (blobs, links, refs) differing between qsenti's and huggingface_hub's", len(diff), 0)
    if diff:
        report.fail(f"layouts differ: {diff[:6]}")
    ref_q = (qsenti_cache / f"models--{REPO.replace('/', '--')}" / "refs" / "main").read_text()
    ref_h = (cache / f"models--{REPO.replace('/', '--')}" / "refs" / "main").read_text()
    report.worst("refs/main differing", 0 if ref_q == ref_h == COMMIT else 1, 0)


def body(report):
    args = common.parse_args(__doc__.splitlines()[0])
    mock = MockHub(make_files())
    try:
        with tempfile.TemporaryDirectory(prefix="qsenti-interop-hub-") as t:
            tmp = Path(t)
            q = common.section(report, "qsenti then huggingface_hub", check_qsenti_then_hf, args, report, mock, tmp)
            if q is not None:
                common.section(report, "huggingface_hub then qsenti", check_hf_then_qsenti, args, report, mock, tmp, q)
    finally:
        mock.close()


if __name__ == "__main__":
    common.main_guard("check_hub", body)
