"""Clients that already exist, unchanged, against `qsenti serve`:

 1. huggingface_hub's InferenceClient(base_url=...): text_classification
    (all labels, and top_k) equals `qsenti predict` on the same texts, and
    feature_extraction returns the served vectors;
 2. the OpenAI client's embeddings.create (its default base64 encoding and
    encoding_format="float") returns the same vectors;
 3. the vectors equal `qsenti embed` on the run's embedding model, and
    the API key is required of both clients.

The run is method A (frozen embedding model + head) trained for a few
epochs on the tiny random Qwen3 fixture: it both classifies and embeds.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TEXTS = ["今天天气真好，出去走走", "太失望了，再也不来了", "一般般吧", "开心！"]
KEY = "client-key"


def train_run(args, tmp):
    rows = []
    with open(args.source / "data" / "weibo2018" / "train.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 400:
                break
            if i % 5 == 0:
                rows.append(line)
    data = os.path.join(tmp, "train.tsv")
    with open(data, "w", encoding="utf-8") as f:
        f.writelines(rows)
    model = args.source / "tests" / "fixtures" / "refs" / "tiny-qwen3"
    run = os.path.join(tmp, "run")
    common.run_qsenti(args.qsenti, ["train", "--method", "embedding", "--model", model, "--train", data,
                                    "--out", run, "--epochs", "3", "--max-length", "32", "--no-cache",
                                    "--threads", "1", "--quiet", "--dtype", "fp32"])
    return run, model


def expected_probabilities(args, run):
    cmd = ["predict", "--run", run, "--json", "--quiet"]
    for t in TEXTS:
        cmd += ["--text", t]
    out = common.run_qsenti(args.qsenti, cmd).stdout.decode("utf-8").strip().splitlines()
    return [json.loads(line)["probabilities"] for line in out]


def expected_vectors(args, model, tmp):
    texts = os.path.join(tmp, "texts.txt")
    with open(texts, "w", encoding="utf-8") as f:
        f.write("\n".join(TEXTS) + "\n")
    out = os.path.join(tmp, "vectors.jsonl")
    common.run_qsenti(args.qsenti, ["embed", "--model", model, "--data", texts, "--out", out, "--json-lines",
                                    "--max-length", "32", "--dtype", "fp32", "--no-cache", "--quiet"])
    with open(out, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r.get("embedding", r.get("vector")) for r in rows]


def worst_vector_diff(got, want):
    if len(got) != len(want):
        raise common.CheckFailure(f"{len(got)} vectors, expected {len(want)}")
    worst = 0.0
    for g, w in zip(got, want):
        if len(g) != len(w):
            raise common.CheckFailure(f"a vector of {len(g)} numbers, expected {len(w)}")
        worst = max(worst, max(abs(float(a) - float(b)) for a, b in zip(g, w)))
    return worst


def main(report):
    args = common.parse_args(__doc__)
    from huggingface_hub import InferenceClient
    import openai

    with tempfile.TemporaryDirectory(prefix="qsenti-clients-") as tmp:
        run, model = train_run(args, tmp)
        probs = expected_probabilities(args, run)
        vectors = expected_vectors(args, model, tmp)
        proc, port = common.start_server(args.qsenti, ["--run", f"weibo={run}", "--api-key", KEY, "--threads", "1",
                                                       "--max-input-length", "32", "--auto-truncate"],
                                         os.path.join(tmp, "serve.log"))
        try:
            base = f"http://127.0.0.1:{port}"
            hf = InferenceClient(base_url=base, api_key=KEY)
            worst, order_wrong = 0.0, 0
            for text, want in zip(TEXTS, probs):
                got = hf.text_classification(text)
                shown = {e.label: e.score for e in got}
                if sorted(shown) != sorted(want):
                    raise common.CheckFailure(f"text_classification gave labels {sorted(shown)}, the run has {sorted(want)}")
                worst = max(worst, max(abs(shown[k] - want[k]) for k in want))
                order_wrong += [e.score for e in got] != sorted((e.score for e in got), reverse=True)
                top = hf.text_classification(text, top_k=1)
                order_wrong += len(top) != 1 or top[0].label != max(want, key=want.get)
            report.worst(f"InferenceClient.text_classification vs qsenti predict ({len(TEXTS)} texts)", worst, 2e-6)
            report.worst("answers not sorted, or top_k=1 not the top label", order_wrong, 0)

            feats = [hf.feature_extraction(t) for t in TEXTS]
            feats = [f.tolist()[0] if hasattr(f, "tolist") else f[0] for f in feats]
            report.worst("InferenceClient.feature_extraction vs qsenti embed", worst_vector_diff(feats, vectors), 2e-6)

            oa = openai.OpenAI(base_url=base + "/v1", api_key=KEY)
            got = oa.embeddings.create(model="weibo", input=TEXTS)  # base64 on the wire, the client's default
            report.worst("openai embeddings.create (default encoding) vs qsenti embed",
                         worst_vector_diff([d.embedding for d in sorted(got.data, key=lambda d: d.index)], vectors), 2e-6)
            got = oa.embeddings.create(model="weibo", input=TEXTS[0], encoding_format="float")
            report.worst("openai embeddings.create (float) vs qsenti embed",
                         worst_vector_diff([got.data[0].embedding], vectors[:1]), 2e-6)

            refused = 0
            try:
                InferenceClient(base_url=base, api_key="wrong").text_classification(TEXTS[0])
            except Exception as e:  # huggingface_hub raises its HTTP error type
                refused += "401" in str(e)
            try:
                openai.OpenAI(base_url=base + "/v1", api_key="wrong").embeddings.create(model="weibo", input="x")
            except openai.AuthenticationError:
                refused += 1
            report.worst("clients with a wrong key not refused with 401", 2 - refused, 0)
        finally:
            rc = common.stop_server(proc)
            if rc != 0:
                report.fail(f"serve ended with {rc} after SIGTERM (expected a clean exit 0)")


if __name__ == "__main__":
    common.main_guard("check_serve_clients", main)
