"""`qsenti export --format gguf`, judged by PyPI's gguf package and, when
llama-cpp-python is installed, by llama.cpp itself.

 1. gguf's GGUFReader reads every exported file: a method C run (LoRA, merged
    in fp32) at f32, f16, bf16 and q8_0, a method B run, and a plain model
    folder (--model, also as --embedding). Every tensor is byte for byte what
    gguf.quants.quantize makes of its source (the run's `export --format hf`
    fp32 weights, or the folder's own): the type's rounding and nothing else.
    The metadata is llama.cpp's Qwen3 layout; every token is what the Hugging
    Face tokenizer calls that id.
 2. llama.cpp (llama-cpp-python): the RANK-pooled scores of the f32 classifier
    are `qsenti predict`'s probabilities on 50 bundled Weibo texts within
    1e-4; bf16 and q8_0 errors and label agreement are reported. Method B:
    the merged f32 model's next-token logits after the prompt are
    transformers' on the run's hf export, and the `--lora-only` adapter
    applied to the base model's GGUF gives the merged model's logits. Skipped,
    with a line saying so, when llama_cpp is not importable.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import interop_util as util  # noqa: E402

torch = util.torch
import numpy as np  # noqa: E402
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as Q  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

MAX_LENGTH = 64
TOL = 1e-4
TYPES = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0}
FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7, "bf16": 32}


def gguf_name(hf):
    """llama.cpp's tensor names for Qwen3 (convert_hf_to_gguf's mapping)."""
    top = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight", "score.weight": "cls.output.weight"}
    if hf in top:
        return top[hf]
    parts = hf.split(".")
    assert parts[:2] == ["model", "layers"], hf
    sub = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
           "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
           "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
           "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}[".".join(parts[3:-1])]
    return f"blk.{parts[2]}.{sub}.{parts[-1]}"


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def expected_type(hf, shape, want):
    """What the exporter promises: 1-d tensors and the class head in f32;
    q8_0 rows that are not whole blocks in f16."""
    if len(shape) < 2 or hf == "score.weight":
        return Q.F32
    if want == Q.Q8_0 and shape[-1] % 32:
        return Q.F16
    return want


def check_tensors(report, what, path, source, type_name, tied):
    """Every source tensor present, in the promised type, its bytes equal to
    gguf.quants.quantize of the fp32 source; nothing else in the file."""
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    want = TYPES[type_name]
    expected = {gguf_name(n) for n in source if not (n == "lm_head.weight" and tied)}
    util.check(set(tensors) == expected,
               f"{what}: tensors differ: extra {sorted(set(tensors) - expected)[:5]}, missing {sorted(expected - set(tensors))[:5]}")
    mismatched, worst = [], 0.0
    for hf, src in source.items():
        name = gguf_name(hf)
        if name not in tensors:
            continue
        t = tensors[name]
        a = src.float().numpy()
        qt = expected_type(hf, a.shape, want)
        if t.tensor_type != qt:
            mismatched.append(f"{name} is {t.tensor_type.name}, expected {qt.name}")
            continue
        if list(reversed([int(x) for x in t.shape])) != list(a.shape):
            mismatched.append(f"{name} has ggml shape {list(t.shape)} for torch {list(a.shape)}")
            continue
        theirs = gguf.quants.quantize(a, qt)
        if np.asarray(t.data).tobytes() != theirs.tobytes():
            mismatched.append(f"{name} ({qt.name}) differs from gguf.quants.quantize of the source")
        back = gguf.quants.dequantize(np.asarray(t.data), qt).reshape(a.shape)
        worst = max(worst, float(np.abs(back - a).max()))
    for m in mismatched[:5]:
        report.fail(f"{what}: {m}")
    report.worst(f"{what}: tensors not byte-equal to gguf.quants.quantize(source) [max |dequant - source| {worst:.3e}]",
                 len(mismatched), 0)
    return reader


def check_metadata(report, what, reader, config, tok, type_name, pooling=None, labels=None, pad=None):
    expect = {
        "general.architecture": "qwen3",
        "general.file_type": FILE_TYPES[type_name],
        "general.alignment": 32,
        "qwen3.context_length": config["max_position_embeddings"],
        "qwen3.embedding_length": config["hidden_size"],
        "qwen3.block_count": config["num_hidden_layers"],
        "qwen3.feed_forward_length": config["intermediate_size"],
        "qwen3.attention.head_count": config["num_attention_heads"],
        "qwen3.attention.head_count_kv": config["num_key_value_heads"],
        "qwen3.attention.key_length": config["head_dim"],
        "qwen3.attention.value_length": config["head_dim"],
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "qwen2",
        # An embedding model: <|endoftext|>, appended by llama.cpp (add_eos_token), is the pooled token.
        "tokenizer.ggml.eos_token_id": tok.convert_tokens_to_ids("<|endoftext|>" if pooling == 3 else tok.eos_token),
        "tokenizer.ggml.bos_token_id": config["bos_token_id"],
        "tokenizer.ggml.add_bos_token": False,
        "qwen3.pooling_type": pooling,
        "qwen3.classifier.output_labels": labels,
    }
    if pad is not None:
        expect["tokenizer.ggml.padding_token_id"] = pad
    bad = []
    for k, v in expect.items():
        got = field(reader, k)
        if got != v:
            bad.append(f"{k} = {got!r}, expected {v!r}")
    for k, v in (("qwen3.rope.freq_base", config["rope_theta"]),
                 ("qwen3.attention.layer_norm_rms_epsilon", config["rms_norm_eps"])):
        got = field(reader, k)
        if got is None or abs(got - v) > 1e-6 * abs(v):
            bad.append(f"{k} = {got!r}, expected {v!r}")
    if field(reader, "tokenizer.chat_template") != tok.chat_template:
        bad.append("tokenizer.chat_template differs from the tokenizer's")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    vocab = config["vocab_size"]
    if tokens is None or len(tokens) != vocab or types is None or len(types) != vocab:
        bad.append(f"tokens/token_type not {vocab} long")
    else:
        hf_tokens = tok.convert_ids_to_tokens(list(range(len(tok))))
        wrong = [i for i, t in enumerate(hf_tokens) if tokens[i] != t]
        pads = [i for i in range(len(tok), vocab) if tokens[i] != f"[PAD{i}]" or types[i] != gguf.TokenType.UNUSED]
        # CONTROL: special, or looking so (convert_hf_to_gguf's does_token_look_special)
        special = {i for i, a in tok.added_tokens_decoder.items()
                   if a.special or (a.content.startswith("<|") and a.content.endswith("|>"))}
        wrong_types = [i for i in range(len(tok))
                       if types[i] != (gguf.TokenType.CONTROL if i in special else
                                       gguf.TokenType.USER_DEFINED if i in tok.added_tokens_decoder else
                                       gguf.TokenType.NORMAL)]
        if wrong or pads or wrong_types:
            bad.append(f"tokens differ from the tokenizer at {wrong[:5]}, padding at {pads[:5]}, types at {wrong_types[:5]}")
    merges = field(reader, "tokenizer.ggml.merges")
    tj = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    tj = [m if isinstance(m, str) else " ".join(m) for m in tj]
    if merges != tj:
        bad.append(f"merges differ ({len(merges or [])} vs {len(tj)})")
    for b in bad:
        report.fail(f"{what}: {b}")
    report.worst(f"{what}: metadata keys not as llama.cpp expects", len(bad), 0)


def llama_scores(path, texts, k):
    """llama.cpp's RANK-pooled class scores, one text at a time, with its
    own tokenizer (the file's vocabulary and merges)."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_RANK,
                          n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2, verbose=False)
    out, ids = [], []
    for t in texts:
        ids.append(llm.tokenize(t.encode("utf-8"), add_bos=False, special=False))
        e = llm.embed(t, normalize=False)
        out.append(list(e[:k]) if not isinstance(e[0], list) else list(e[0][:k]))
    del llm
    return torch.tensor(out, dtype=torch.float64), ids


def llama_embeddings(path, texts):
    """llama.cpp's embeddings as the file says to pool them (LAST, after the
    EOS its tokenizer appends), L2-normalised."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, embedding=True, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2,
                          verbose=False)
    out = [llm.embed(t, normalize=True) for t in texts]
    del llm
    return torch.tensor(out, dtype=torch.float64)


def llama_next_logits(path, prompts, lora=None):
    """llama.cpp's logits for the token after each prompt (ids given). Its KV
    cache is f16 by default: agreement with fp32 transformers is ~1e-4."""
    import llama_cpp

    kw = {"lora_path": lora} if lora else {}
    llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2, verbose=False, **kw)
    out = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        # the context's own last-token logits (llm.scores stays zero in 0.3.36 without logits_all)
        last = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        out.append(torch.tensor(last.copy(), dtype=torch.float64))
    del llm
    return torch.stack(out)


def main(report):
    args = common.parse_args(__doc__)
    q = util.Qsenti(args.qsenti)
    tiny = os.path.join(args.source, "tests/fixtures/refs/tiny-qwen3")
    tiny_config = json.load(open(os.path.join(tiny, "config.json")))
    tok = AutoTokenizer.from_pretrained(os.path.join(args.source, "assets/qwen3-tokenizer"))
    rows = util.weibo_rows(args.source)
    train_rows = rows[::40][:240]
    texts = [t for t, _ in rows[7::50] if len(tok.encode(t, add_special_tokens=False)) < MAX_LENGTH - 4][:50]
    with tempfile.TemporaryDirectory(prefix="qsenti-interop-") as tmp:
        train = os.path.join(tmp, "train.tsv")
        util.write_tsv(train, train_rows)
        texts_file = os.path.join(tmp, "texts.txt")
        util.write_lines(texts_file, texts)

        # Method C, LoRA: the hf export (fp32, merged) is the source of truth.
        run_c = os.path.join(tmp, "c")
        q.run("train", "--method", "classifier", "--model", tiny, "--train", train, "--epochs", "1",
              "--batch-size", "16", "--max-length", str(MAX_LENGTH), "--dtype", "fp32", "--quiet",
              "--out", run_c, "--lora-r", "4", "--lora-alpha", "8", "--lr", "5e-3")
        hf_c = os.path.join(tmp, "c-hf")
        q.run("export", "--run", run_c, "--format", "hf", "--out", hf_c)
        src_c, _ = common.read_safetensors(os.path.join(hf_c, "model.safetensors"))
        labels = json.load(open(os.path.join(run_c, "manifest.json")))["labels"]
        files_c = {}
        for ty in TYPES:
            out = os.path.join(tmp, f"c-{ty}.gguf")
            q.run("export", "--run", run_c, "--format", "gguf", "--type", ty, "--out", out)
            files_c[ty] = out
            reader = check_tensors(report, f"C {ty}", out, src_c, ty, tied=True)
            check_metadata(report, f"C {ty}", reader, tiny_config, tok, ty, pooling=4, labels=labels, pad=151643)
            util.check(reader.fields.get("qsenti.method").contents() == "classifier", "qsenti.method")

        # Method B: the merged causal LM, prompt and label words in metadata.
        run_b = os.path.join(tmp, "b")
        q.run("train", "--method", "lora", "--model", tiny, "--train", train, "--epochs", "1", "--batch-size", "16",
              "--max-length", "96", "--dtype", "fp32", "--lr", "5e-3", "--lora-r", "4", "--lora-alpha", "8",
              "--max-steps", "4", "--quiet", "--out", run_b)
        hf_b = os.path.join(tmp, "b-hf")
        q.run("export", "--run", run_b, "--format", "hf", "--out", hf_b)
        src_b, _ = common.read_safetensors(os.path.join(hf_b, "model.safetensors"))
        out_b = os.path.join(tmp, "b.gguf")
        q.run("export", "--run", run_b, "--format", "gguf", "--type", "f32", "--out", out_b)
        reader = check_tensors(report, "B f32", out_b, src_b, "f32", tied=True)
        check_metadata(report, "B f32", reader, tiny_config, tok, "f32")
        extra = json.load(open(os.path.join(run_b, "manifest.json")))["extra"]
        util.check(field(reader, "qsenti.label_words") == extra["label_words"],
                   f"qsenti.label_words {field(reader, 'qsenti.label_words')!r}")
        util.check(field(reader, "qsenti.prompt.prefix") == extra["template_prefix"], "qsenti.prompt.prefix")
        util.check(field(reader, "qsenti.prompt.suffix") == extra["template_suffix"], "qsenti.prompt.suffix")
        out_lora = os.path.join(tmp, "b-lora.gguf")
        q.run("export", "--run", run_b, "--format", "gguf", "--lora-only", "--type", "f32", "--out", out_lora)
        lreader = gguf.GGUFReader(out_lora)
        adapter, acfg = common.read_safetensors(os.path.join(run_b, "adapter", "adapter_model.safetensors"))[0], \
            json.load(open(os.path.join(run_b, "adapter", "adapter_config.json")))
        util.check(field(lreader, "general.type") == "adapter" and field(lreader, "adapter.type") == "lora",
                   "LoRA GGUF: general.type adapter, adapter.type lora")
        scale = acfg["lora_alpha"] / (acfg["r"] ** 0.5 if acfg.get("use_rslora") else acfg["r"])
        report.worst("LoRA GGUF: |adapter.lora.alpha / r - peft's scaling|",
                     abs(field(lreader, "adapter.lora.alpha") / acfg["r"] - scale), 1e-6)
        ltensors = {t.name: t for t in lreader.tensors}
        bad = 0
        for name, a in adapter.items():
            module = name[len("base_model.model."):-len(".lora_A.weight")]
            g = gguf_name(module + ".weight") + (".lora_a" if ".lora_A." in name else ".lora_b")
            t = ltensors.get(g)
            if t is None or np.asarray(t.data).tobytes() != a.float().numpy().tobytes():
                bad += 1
        report.worst(f"LoRA GGUF: of {len(adapter)} peft matrices, missing or not equal", bad, 0)
        out_base = os.path.join(tmp, "base-f32.gguf")
        q.run("export", "--model", tiny, "--format", "gguf", "--type", "f32", "--out", out_base)

        # A plain folder (bf16 on disk), as it is and as an embedding model.
        src_m, _ = common.read_safetensors(os.path.join(tiny, "model.safetensors"))
        for flag, pooling in (([], None), (["--embedding"], 3)):
            out = os.path.join(tmp, f"m{len(flag)}.gguf")
            q.run("export", "--model", tiny, "--format", "gguf", "--type", "q8_0", "--out", out, *flag)
            what = "--model" + (" --embedding" if flag else "") + " q8_0"
            reader = check_tensors(report, what, out, src_m, "q8_0", tied=True)
            check_metadata(report, what, reader, tiny_config, tok, "q8_0", pooling=pooling)

        # llama.cpp itself.
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            print("SKIPPED llama.cpp comparison: llama_cpp (llama-cpp-python) is not installed", flush=True)
            return
        ours, names = q.predict_file(run_c, texts_file, os.path.join(tmp, "p.jsonl"))
        util.check(names == labels, f"predict's labels {names}")
        hf_ids = [tok.encode(t, add_special_tokens=False, split_special_tokens=True) for t in texts]
        for ty in ("f32", "bf16", "q8_0"):
            scores, ids = llama_scores(files_c[ty], texts, len(labels))
            if ty == "f32":
                differ = sum(a != b for a, b in zip(ids, hf_ids))
                report.worst("llama.cpp tokenisation: texts whose ids differ from the HF tokenizer's", differ, 0)
            sums = scores.sum(-1)
            probs = scores if torch.allclose(sums, torch.ones_like(sums), atol=1e-5) else torch.softmax(scores, -1)
            if ty == "f32":
                print(f"  llama.cpp RANK output: {'probabilities' if probs is scores else 'logits (softmax applied here)'}")
            util.report_diff(report, f"C {ty}: llama.cpp RANK vs qsenti predict (fp32)", ours, probs,
                             TOL if ty == "f32" else None)

        # Method A's model: llama.cpp's LAST-pooled, normalised embeddings vs `qsenti embed`.
        emb_out = os.path.join(tmp, "emb.jsonl")
        q.run("embed", "--model", tiny, "--data", texts_file, "--format", "plain", "--dtype", "fp32", "--no-cache",
              "--quiet", "--out", emb_out)
        ours_e = torch.tensor([json.loads(l)["embedding"] for l in open(emb_out, encoding="utf-8")], dtype=torch.float64)
        for ty in ("f32", "q8_0"):
            out = os.path.join(tmp, f"emb-{ty}.gguf")
            q.run("export", "--model", tiny, "--embedding", "--format", "gguf", "--type", ty, "--out", out)
            theirs_e = llama_embeddings(out, texts)
            # Both are unit vectors: the largest coordinate difference, and 1 - cosine.
            # llama.cpp keeps its KV cache in f16, which alone moves coordinates
            # by ~1e-4 (9.5e-5 measured): 5e-4 for f32; the cosine is the tight test.
            report.worst(f"A {ty}: llama.cpp LAST-pooled embeddings vs qsenti embed, max abs",
                         (theirs_e - ours_e).abs().max().item(), 5e-4 if ty == "f32" else 5e-2)
            report.worst(f"A {ty}: 1 - cosine, worst text", (1 - (theirs_e * ours_e).sum(-1)).max().item(),
                         1e-6 if ty == "f32" else 1e-2)

        # Method B: next-token logits after qsenti's prompt.
        from transformers import AutoModelForCausalLM

        prefix = tok.encode(extra["template_prefix"], add_special_tokens=False)
        suffix = tok.encode(extra["template_suffix"], add_special_tokens=False)
        prompts = [prefix + tok.encode(t, add_special_tokens=False, split_special_tokens=True) + suffix
                   for t in texts[:20]]
        hf = AutoModelForCausalLM.from_pretrained(hf_b, dtype=torch.float32).eval()
        with torch.no_grad():
            theirs = torch.stack([hf(input_ids=torch.tensor([p])).logits[0, -1].double() for p in prompts])
        merged = llama_next_logits(out_b, prompts)
        report.worst("B f32: llama.cpp next-token logits vs transformers (hf export), max abs",
                     (merged - theirs).abs().max().item(), 1e-3)
        applied = llama_next_logits(out_base, prompts, lora=out_lora)
        report.worst("B --lora-only on the base GGUF vs the merged GGUF (llama.cpp), max abs logits",
                     (applied - merged).abs().max().item(), 1e-3)


if __name__ == "__main__":
    common.main_guard("check_gguf", main)
