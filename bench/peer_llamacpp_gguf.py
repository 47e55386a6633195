"""qsenti vs llama.cpp on the same classifier, same texts, same threads.

    python bench/peer_llamacpp_gguf.py --qsenti build/qsenti --run RUN [--texts 200] [--threads 2]
                                       [--types bf16,q8_0]

RUN is a method-C run or a transformers classifier folder (`qsenti init
--preset 0.6B --num-labels 2`). For each GGUF type it exports RUN with
`qsenti export --format gguf`, scores the texts in llama.cpp (llama-cpp-python,
RANK pooling) and with `qsenti predict --file --dtype D` (bf16 for bf16, fp32
for f32; q8_0 is compared with qsenti's bf16), and prints texts/s of each
(steady state: a one-text run's time, the model load, is subtracted) and how
often the two engines' labels agree, with the largest probability
difference (on a random model the classes are near 0.5 each, so agreement
only means something on a trained run). Texts: Weibo posts spread over
data/weibo2018/train.tsv.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def weibo_texts(source, n):
    rows = [l.rstrip("\n").rpartition("\t")[0] for l in open(os.path.join(source, "data/weibo2018/train.tsv"),
                                                              encoding="utf-8")]
    rows = [r for r in rows if r]
    return [rows[i * len(rows) // n] for i in range(n)]


def timed(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def qsenti_rate(q, run, texts, dtype, threads, tmp, rate=True, max_length=4096):
    """texts/s in steady state: the time of 2N texts less the time of N (the
    model load cancels), and the probabilities of the N texts. rate=False:
    the probabilities only (texts/s None)."""
    def job(ts, name):
        f = os.path.join(tmp, name + ".txt")
        with open(f, "w", encoding="utf-8") as out:
            out.write("\n".join(t.replace("\n", " ") for t in ts) + "\n")
        o = os.path.join(tmp, name + ".jsonl")
        s = timed([q, "predict", "--run", run, "--file", f, "--format", "plain", "--out", o, "--restart", "--quiet",
                   "--dtype", dtype, "--threads", str(threads), "--batch-size", "16",
                   # llama.cpp reads every token of a text; without this qsenti
                   # would cut texts at the run's training length.
                   "--max-length", str(max_length)])
        return s, [list(json.loads(l)["probabilities"].values()) for l in open(o, encoding="utf-8")]

    once, probs = job(texts, "once")
    if not rate:
        return None, probs
    twice, _ = job(texts + texts, "twice")
    return len(texts) / max(twice - once, 1e-9), probs


def llama_rate(path, texts, threads):
    """texts/s of llama.cpp's RANK pooling (batches of 16 sequences, as
    qsenti's), and its scores (softmaxed by llama.cpp in RANK mode)."""
    import llama_cpp

    t0 = time.monotonic()
    llm = llama_cpp.Llama(model_path=path, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_RANK,
                          n_ctx=4096, n_batch=4096, n_ubatch=4096, n_seq_max=16, n_threads=threads,
                          n_threads_batch=threads, verbose=False)
    load = time.monotonic() - t0
    t0 = time.monotonic()
    probs = []
    for i in range(0, len(texts), 16):
        out = llm.embed(texts[i:i + 16], normalize=False)
        probs.extend([list(r) for r in out])
    s = time.monotonic() - t0
    del llm
    return len(texts) / s, probs, load


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qsenti", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--texts", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--types", default="bf16,q8_0")
    p.add_argument("--max-length", type=int, default=4096, help="qsenti's --max-length (llama.cpp truncates nothing)")
    p.add_argument("--qsenti-dtype", default="", help="qsenti's side: fp32 or bf16 (default: fp32 for f32, else bf16)")
    p.add_argument("--agreement-only", action="store_true",
                   help="no texts/s: one qsenti pass (for label agreement on many texts)")
    a = p.parse_args()
    source = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    texts = weibo_texts(source, a.texts)
    results = []
    with tempfile.TemporaryDirectory(prefix="qsenti-gguf-bench-") as tmp:
        for ty in a.types.split(","):
            g = os.path.join(tmp, f"m-{ty}.gguf")
            subprocess.run([a.qsenti, "export", "--run", a.run, "--format", "gguf", "--type", ty, "--out", g],
                           check=True, stdout=subprocess.DEVNULL)
            l_tps, l_probs, l_load = llama_rate(g, texts, a.threads)
            dtype = a.qsenti_dtype or ("fp32" if ty == "f32" else "bf16")
            q_tps, q_probs = qsenti_rate(a.qsenti, a.run, texts, dtype, a.threads, tmp, rate=not a.agreement_only,
                                         max_length=a.max_length)
            k = len(q_probs[0])
            argmax = lambda r: max(range(k), key=lambda j: r[j])
            agree = sum(argmax(x[:k]) == argmax(y) for x, y in zip(l_probs, q_probs)) / len(texts)
            worst = max(abs(x[j] - y[j]) for x, y in zip(l_probs, q_probs) for j in range(k))
            # How far from a tie qsenti's answers are: agreement means little
            # where every text sits near 1/k.
            top = sorted(max(y) for y in q_probs)
            r = {"gguf_type": ty, "qsenti_dtype": dtype, "texts": len(texts), "threads": a.threads,
                 "llama_cpp_texts_per_s": round(l_tps, 2),
                 "qsenti_texts_per_s": round(q_tps, 2) if q_tps else None,
                 "qsenti_over_llama_cpp": round(q_tps / l_tps, 3) if q_tps else None,
                 "label_agreement": round(agree, 4), "labels_differ": round((1 - agree) * len(texts)),
                 "max_abs_probability_diff": float(f"{worst:.3g}"),
                 "qsenti_top_probability_median": round(top[len(top) // 2], 4),
                 "texts_within_0.05_of_a_tie": sum(t < 1 / k + 0.05 for t in top),
                 "llama_cpp_load_s": round(l_load, 2)}
            print(json.dumps(r), flush=True)
            results.append(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
