"""qsenti embed (method A's vectors) against transformers.

The Qwen3-Embedding recipe, as its model card runs it in Python: format a
query as "Instruct: {task}\\nQuery:{text}", tokenise, keep max_length - 1
tokens and append <|endoftext|> (151643), run AutoModel on left-padded
batches, take the last position's final hidden state, L2-normalise.
qsenti must give the same vectors (fp32) for ~50 Weibo posts, with and
without an instruction, and with truncation.
"""
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import CheckFailure  # noqa: E402

ENDOFTEXT = 151643
N_TEXTS = 50
BATCH = 8  # Python's batches, in file order: padding differs from qsenti's length-sorted ones
TASK = "Given a Weibo post, classify its sentiment (判断情感) as positive or negative"
RUNS = [  # (name, instruction, max_length)
    ("bare text", "", 256),
    ("instruction", TASK, 256),
    ("bare text, max_length 24", "", 24),
    ("instruction, max_length 40", TASK, 40),
]


def pick_texts(source, tokenizer):
    """~50 posts of bundled Weibo data: a seeded sample plus the longest
    (over 256 tokens, so the default max_length truncates) and the shortest."""
    rows = (source / "data" / "weibo2018" / "train.tsv").read_text(encoding="utf-8").splitlines()
    texts = [r.split("\t")[0] for r in rows if r.strip()]
    # qsenti embeds user text with added-token text as plain text; HF would
    # parse it: leave such posts out (the tokenizer check covers them).
    added = [t.content for t in tokenizer.added_tokens_decoder.values()]
    texts = [t for t in texts if not any(a in t for a in added)]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    chosen = [order[-1], order[0]]
    rng = random.Random(5)
    chosen += [i for i in rng.sample(range(len(texts)), N_TEXTS) if i not in chosen][: N_TEXTS - 2]
    return [texts[i] for i in chosen], max(lengths)


def last_token_pool(hidden, mask):
    # The model card's pooling (left padding: the last column is every row's last token).
    import torch

    if bool((mask[:, -1] == 1).all()):
        return hidden[:, -1]
    lengths = mask.sum(dim=1) - 1
    return hidden[torch.arange(hidden.shape[0]), lengths]


def hf_embed(model, tokenizer, texts, instruction, max_length):
    import torch
    import torch.nn.functional as F

    inputs = [f"Instruct: {instruction}\nQuery:{t}" for t in texts] if instruction else list(texts)
    ids = tokenizer(inputs, add_special_tokens=False)["input_ids"]
    ids = [x[: max_length - 1] + [ENDOFTEXT] for x in ids]
    out = []
    for b in range(0, len(ids), BATCH):
        batch = tokenizer.pad({"input_ids": ids[b: b + BATCH]}, padding=True, return_tensors="pt")
        with torch.no_grad():
            h = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        out.append(F.normalize(last_token_pool(h, batch["attention_mask"]).float(), p=2, dim=1))
    return torch.cat(out), ids


def body(report):
    args = common.parse_args(__doc__.splitlines()[0])
    torch = common.setup_torch()
    from transformers import AutoModel, AutoTokenizer

    model_dir = args.source / "tests" / "fixtures" / "refs" / "tiny-qwen3"
    tokenizer = AutoTokenizer.from_pretrained(args.source / "assets" / "qwen3-tokenizer", padding_side="left")
    if tokenizer.pad_token_id != ENDOFTEXT:
        raise CheckFailure(f"the bundled tokenizer pads with {tokenizer.pad_token_id}, expected {ENDOFTEXT}")
    model, info = AutoModel.from_pretrained(model_dir, dtype=torch.float32, output_loading_info=True,
                                            attn_implementation="eager")
    problems = common.loading_problems(info)
    if problems:  # weights left at random would make the comparison meaningless
        raise CheckFailure(f"transformers did not load {model_dir} cleanly: {problems}")
    model.eval()

    texts, longest = pick_texts(args.source, tokenizer)
    print(f"  {len(texts)} texts, the longest {longest} tokens; model {model_dir.name} "
          f"(hidden {model.config.hidden_size}), fp32")
    with tempfile.TemporaryDirectory(prefix="qsenti-interop-") as t:
        tmp = Path(t)
        data = tmp / "texts.jsonl"  # JSON lines: the texts reach qsenti byte for byte
        data.write_text("".join(json.dumps({"text": x}, ensure_ascii=False) + "\n" for x in texts), encoding="utf-8")
        for k, (name, instruction, max_length) in enumerate(RUNS):
            out = tmp / f"run{k}.safetensors"
            cmd = ["embed", "--model", model_dir, "--data", data, "--out", out, "--dtype", "fp32",
                   "--no-cache", "--quiet", "--max-length", str(max_length)]
            if instruction:
                cmd += ["--instruction", instruction]
            common.run_qsenti(args.qsenti, cmd)
            tensors, meta = common.read_safetensors(out)
            q = tensors["embeddings"]
            want, ids = hf_embed(model, tokenizer, texts, instruction, max_length)
            if q.dtype != torch.float32 or tuple(q.shape) != tuple(want.shape):
                raise CheckFailure(f"{name}: qsenti wrote {q.dtype} {tuple(q.shape)}, expected float32 "
                                   f"{tuple(want.shape)}")
            lines = tensors["lines"].tolist()
            if lines != list(range(1, len(texts) + 1)):
                report.fail(f"{name}: 'lines' is {lines[:10]}..., expected 1..{len(texts)} in input order")
            if meta.get("instruction", "") != instruction or meta.get("dtype") != "fp32":
                report.fail(f"{name}: metadata instruction/dtype {meta.get('instruction')!r}/{meta.get('dtype')!r}")
            diff = (q.double() - want.double()).abs()
            row = int(diff.max(dim=1).values.argmax())
            truncated = sum(len(x) == max_length for x in ids)
            print(f"  {name}: worst row {row} ({len(ids[row])} tokens), {truncated} texts truncated")
            report.worst(f"embedding ({name}) max abs diff", diff.max().item(), common.FP32_ATOL)


if __name__ == "__main__":
    common.main_guard("check_embedding", body)
