#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (run once; the files
are committed). Small valid inputs, from tests/fixtures where there is one,
so that the fuzzers start inside each format rather than at its magic."""
import json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
FIX = os.path.join(ROOT, "tests", "fixtures")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(*parts):
    with open(os.path.join(FIX, *parts), "rb") as f:
        return f.read()


# ---- safetensors
def safetensors(tensors, metadata=None, pad=True):
    header, blob = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    if pad:
        h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob

put("safetensors", "score_only.safetensors", fixture("refs", "tiny-qwen3-seqcls", "score_only.safetensors"))
put("safetensors", "f32_bf16.safetensors", safetensors(
    {"a": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), "b": ("BF16", [3], b"\x80\x3f" * 3)}, {"format": "pt"}))
put("safetensors", "misaligned.safetensors", safetensors(
    {"x": ("U8", [3], b"abc"), "y": ("I64", [1], struct.pack("<q", -7)), "e": ("F16", [0], b"")}, pad=False))
put("safetensors", "empty.safetensors", safetensors({}))

# ---- config.json
put("config", "tiny-qwen3.json", fixture("refs", "tiny-qwen3", "config.json"))
put("config", "tiny-qwen3-seqcls.json", fixture("refs", "tiny-qwen3-seqcls", "config.json"))
put("config", "minimal.json", json.dumps({"model_type": "qwen3", "hidden_size": 64, "num_attention_heads": 2,
                                          "eos_token_id": [1, 2], "id2label": {"0": "neg", "1": "pos"}}))

# ---- tokenizer.json (the shape of tests/test_tokenizer.cpp's tiny_tokenizer)
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))

QWEN3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")

def tiny_tokenizer(merges_as_strings, nfc=True):
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    merges, nid = [], 256
    for a, b in [("h", "e"), ("l", "l"), ("he", "ll"), ("Ġ", "w")]:
        vocab[a + b] = nid; nid += 1
        merges.append(a + " " + b if merges_as_strings else [a, b])
    added = []
    for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]:
        added.append({"id": nid, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True}); nid += 1
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return json.dumps({"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"} if nfc else None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN3_REGEX}, "behavior": "Isolated", "invert": False}, bl]},
        "post_processor": bl, "decoder": bl,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges}}, ensure_ascii=False)

put("tokenizer_json", "tiny_pairs.json", tiny_tokenizer(False))
put("tokenizer_json", "tiny_strings.json", tiny_tokenizer(True))
put("tokenizer_json", "tiny_no_normalizer.json", tiny_tokenizer(False, nfc=False))

# ---- tokenizer encode: texts (a few of tests/fixtures/tokenizer/edge_cases.jsonl, and bytes)
texts = {}
for line in fixture("tokenizer", "edge_cases.jsonl").decode("utf-8").split("\n"):
    if not line.strip():
        continue
    r = json.loads(line)
    if r["name"] in ("ascii_hello", "contraction_upper_HELL") or len(texts) < 6:
        texts[r["name"]] = r["text"]
for name, t in texts.items():
    put("tokenizer_encode", name + ".txt", t)
put("tokenizer_encode", "special.txt", "<|im_start|>user\n这部电影太好看了！<|im_end|>\n<think>\n\n</think>")
put("tokenizer_encode", "invalid_utf8.txt", b"ok \xff\xfe \xe4\xbd caf\xc3\xa9 e\xcc\x81 \r\n\t  12345")

# ---- data files: first byte = format (0 tsv, 1 csv, 2 jsonl, 3 plain) | 4 skip bad rows | 8 binary labels
put("dataset", "mixed_labels.tsv", b"\x00" + fixture("data", "mixed_labels.tsv"))
put("dataset", "emotions.csv", b"\x01" + fixture("data", "emotions.csv"))
put("dataset", "reviews_bom_crlf.csv", b"\x09" + fixture("data", "reviews_bom_crlf.csv"))
put("dataset", "samples.jsonl", b"\x02" + fixture("data", "samples.jsonl"))
put("dataset", "posts.txt", b"\x03" + fixture("data", "posts.txt"))
put("dataset", "headed_skip.tsv", b"\x04" + "id\tlabel\ttext\n1\t1\t好\n2\t\t\n".encode() + b"3\t0\tbad\xff\n")

# ---- run folder files: first byte = 0 adapter_config, 1 manifest, 2 train_options
put("run_files", "adapter_config.json", b"\x00" + fixture("refs", "tiny-qwen3-lora", "adapter_config.json"))
put("run_files", "manifest.json", b"\x01" + json.dumps({
    "method": "lora", "base_model": "/models/Qwen3-0.6B", "base_model_fingerprint": "abc", "model_size": "0.6B",
    "labels": ["negative", "positive"], "hyperparameters": {"lr": 0.0002}, "metrics": {"valid": {"accuracy": 0.9}},
    "extra": {"template": "default"}, "qsenti_version": "0.1.0", "created": "2026-01-01T00:00:00Z"}).encode())
put("run_files", "train_options.json", b"\x02" + json.dumps({
    "method": "classifier", "model": "/models/Qwen3-0.6B", "model_size": "0.6B", "train": "data/train.tsv",
    "valid": "", "test": "", "format": "auto", "skip_bad_rows": False, "valid_fraction": 0.1,
    "labels": ["negative", "positive"], "epochs": 3, "batch_size": 16, "lr": 0.0002, "seed": 42,
    "max_length": 256, "dtype": "bf16", "device": "auto", "weight_decay": 0.01, "warmup_ratio": 0.06,
    "schedule": "cosine", "grad_accum": 1, "max_grad_norm": 1.0, "grad_checkpointing": False, "eval_every": 0,
    "save_every": 0, "max_steps": 0, "keep_checkpoints": 2, "full": False, "lora_r": 16, "lora_alpha": 32,
    "lora_dropout": 0.05, "rslora": False, "lora_targets": ["q_proj", "v_proj"], "template": "default",
    "label_words": ["差", "好"]}, ensure_ascii=False).encode())

# ---- serve request bodies: first byte = route (0 predict, 1 classify, 2 tokenize, 3 embed,
# 4 /v1/embeddings, 5 decode) + 16 * (max batch 32, else 1)
put("serve_request", "predict.json", b"\x10" + '{"inputs": [["好看"], ["难看"]], "raw_scores": true, "truncate": true, "truncation_direction": "Left"}'.encode())
put("serve_request", "classify.json", b"\x11" + b'{"input": ["a", "b"], "model": "run1"}')
put("serve_request", "tokenize.json", b"\x12" + b'{"inputs": "hello", "add_special_tokens": false}')
put("serve_request", "embed.json", b"\x13" + b'{"inputs": ["x"], "normalize": true, "truncate": false}')
put("serve_request", "openai.json", b"\x14" + b'{"input": "hi", "model": "m", "encoding_format": "base64"}')
put("serve_request", "decode.json", b"\x15" + b'{"ids": [[1, 2], [3]], "skip_special_tokens": false}')

# ---- GGUF v3 (the layout export/gguf_writer writes)
def gstr(s):
    s = s.encode(); return struct.pack("<Q", len(s)) + s

def gguf(kvs, tensors, align=32):
    head = struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kvs))
    for key, vtype, payload in kvs:
        head += gstr(key) + struct.pack("<I", vtype) + payload
    data, infos = b"", b""
    for name, shape, ttype, raw in tensors:
        infos += gstr(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        infos += struct.pack("<IQ", ttype, len(data))
        data += raw + b"\0" * ((align - len(raw) % align) % align)
    head += infos
    head += b"\0" * ((align - len(head) % align) % align)
    return head + data

kvs = [("general.architecture", 8, gstr("qwen3")), ("general.alignment", 4, struct.pack("<I", 32)),
       ("qwen3.block_count", 4, struct.pack("<I", 2)), ("general.name", 8, gstr("tiny")),
       ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + gstr("a") + gstr("b")),
       ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<2f", 0.5, -1)),
       ("x.flag", 7, b"\x01"), ("x.f64", 12, struct.pack("<d", 2.5)), ("x.i64", 11, struct.pack("<q", -3))]
q8 = struct.pack("<e", 0.5) + bytes(range(32))
put("gguf", "tiny.gguf", gguf(kvs, [("w.f32", [2, 2], 0, struct.pack("<4f", 1, 2, 3, 4)),
                                     ("w.f16", [3], 1, struct.pack("<3e", 1, 2, 3)),
                                     ("w.bf16", [2], 30, b"\x80\x3f\x00\x40"),
                                     ("w.q8", [1, 32], 8, q8)]))
put("gguf", "meta_only.gguf", gguf(kvs[:2], []))

# ---- Hub answers: first byte odd = the file listing JSON, even = HEAD header lines
put("hub", "listing.json", b"\x01" + json.dumps({"id": "Org/Name", "sha": "0123456789abcdef0123456789abcdef01234567",
    "siblings": [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}, {"rfilename": "sub/dir/a.txt"}]}).encode())
put("hub", "head_lfs.txt", b"\x00" + b"HTTP/1.1 302 Found\r\nLocation: https://cdn-lfs.hf.co/repos/ab/cd?x=1\r\n"
    b"X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567\r\nX-Linked-Etag: \"deadbeef\"\r\nX-Linked-Size: 1234\r\n\r\n")
put("hub", "head_plain.txt", b"\x00" + b"HTTP/2 200\r\nx-repo-commit: 0123456789abcdef0123456789abcdef01234567\r\n"
    b"etag: W/\"abc\"\r\ncontent-length: 42\r\n\r\n")
put("hub", "head_relative.txt", b"\x00" + b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /api/x/../y?z\r\n"
    b"X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567\r\nETag: \"e\"\r\nX-Linked-Size: 1\r\n\r\n")
print("seeds written under", OUT)
