"""qsenti init/forward against transformers.

1. `qsenti init --preset tiny` (fp32), causal LM and sequence classifier:
   transformers loads the folder with no missing, unexpected or mismatched
   keys, and `qsenti forward` gives transformers' numbers on a few token
   sequences (last_hidden_state, logsumexp, probe logits, next-token NLL,
   score logits).
2. The 0.6B / 4B / 8B presets, without writing their weights: the tensors
   (names and shapes) qsenti expects of a checkpoint of that config, which
   are the ones `init` writes (both come from qwen3_tensor_shapes), equal
   what transformers builds from the same config.json; and the preset shapes
   are those of the Qwen3 releases.

`init` writes config.json only after the weights, so a big preset's config
cannot be had from it cheaply. It is rebuilt instead from the real config.json
of a tiny `init` (same to_json code) with the shape fields that
Qwen3Config::preset sets, read from src/model/config.cpp; the rebuilt tiny
config must reproduce the real one exactly, and `qsenti info` reads it back.
"""
import json
import re
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import CheckFailure  # noqa: E402

# Published Qwen/Qwen3-{0.6B,4B,8B} config.json values.
RELEASE_SHAPES = {
    "0.6B": dict(hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                 head_dim=128, intermediate_size=3072, tie_word_embeddings=True),
    "4B": dict(hidden_size=2560, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
               head_dim=128, intermediate_size=9728, tie_word_embeddings=True),
    "8B": dict(hidden_size=4096, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
               head_dim=128, intermediate_size=12288, tie_word_embeddings=False),
}
RELEASE_COMMON = dict(vocab_size=151936, rope_theta=1000000.0, rms_norm_eps=1e-6, max_position_embeddings=40960,
                      hidden_act="silu", attention_bias=False, bos_token_id=151643, eos_token_id=151645,
                      model_type="qwen3")
SHAPE_FIELDS = list(RELEASE_SHAPES["0.6B"])
NUM_LABELS = 3
PAD_ID = 151643  # init's pad_token_id for a classifier; HF pools the last non-pad token


# ---------------------------------------------------------------- helpers

def max_abs(a, b):
    import torch

    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise CheckFailure(f"shape mismatch: qsenti {tuple(a.shape)} vs transformers {tuple(b.shape)}")
    return (a - b).abs().max().item() if a.numel() else 0.0


def test_sequences(vocab_size):
    """Token sequences of several lengths; ids across the vocabulary, the
    added-token range and the padded rows at the end of the embedding table."""
    import torch

    g = torch.Generator().manual_seed(20240601)
    rand = lambda n: torch.randint(0, vocab_size, (n,), generator=g).tolist()  # noqa: E731
    return [
        [151935],
        [0, vocab_size - 1],
        [151935, 151934, 151700, 151669, 151668, 151645, 151644],
        rand(5) + [151643] + rand(4) + [151935],  # the pad id mid-sequence: plain token for forward
        rand(23),
        rand(96) + [vocab_size - 2, vocab_size - 1],
    ]


def qsenti_forward(args, model_dir, ids, probes=None):
    cmd = ["forward", "--model", model_dir, "--dtype", "fp32", "--ids", ",".join(map(str, ids))]
    if probes:
        cmd += ["--probe-ids", ",".join(map(str, probes))]
    return common.qsenti_json(args.qsenti, cmd)


# ---------------------------------------------------------------- tiny: init + forward

def init_tiny(args, tmp, num_labels):
    d = tmp / ("tiny-seqcls" if num_labels else "tiny-causal")
    cmd = ["init", "--preset", "tiny", "--dtype", "fp32", "--seed", str(1234 + num_labels), "--out", d]
    if num_labels:
        cmd += ["--num-labels", str(num_labels)]
    common.run_qsenti(args.qsenti, cmd)
    return d


def check_tiny_causal(args, report, d):
    import torch
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, output_loading_info=True,
                                                       attn_implementation="eager")
    problems = common.loading_problems(info)
    report.worst("tiny causal: missing+unexpected+mismatched keys and errors loading into Qwen3ForCausalLM",
                 sum(len(v) for v in problems.values()), 0)
    for k, v in problems.items():
        report.fail(f"tiny causal {k}: {v[:10]}")
    if model.config.tie_word_embeddings and model.lm_head.weight is not model.model.embed_tokens.weight:
        report.fail("tiny causal: tie_word_embeddings is set but transformers did not tie lm_head")
    model.eval()

    V = model.config.vocab_size
    g = torch.Generator().manual_seed(7)
    probes = [0, 1, 151642, 151643, 151668, 151669, V - 1] + torch.randint(0, V, (5,), generator=g).tolist()
    worst = dict(hidden=0.0, lse=0.0, probe=0.0, nll=0.0, emb=0.0)
    for ids in test_sequences(V):
        q = qsenti_forward(args, d, ids, probes)
        x = torch.tensor([ids])
        with torch.no_grad():
            hidden = model.model(input_ids=x).last_hidden_state[0]
            logits = model(input_ids=x).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        nll = [-logp[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
        last = hidden[-1] / hidden[-1].norm().clamp_min(1e-12)
        diffs = dict(
            hidden=max_abs(q["last_hidden_state"], hidden),
            lse=abs(q["logsumexp_last"] - logits[-1].logsumexp(0).item()),
            probe=max_abs(q["probe_logits_last"], logits[-1, probes]),
            nll=max_abs(q["per_token_nll"], nll),
            emb=max_abs(q["embedding_l2"], last),
        )
        print(f"  tiny causal len {len(ids):3d}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
        worst = {k: max(worst[k], diffs[k]) for k in worst}
    tol = common.FP32_ATOL
    report.worst("tiny causal last_hidden_state max abs diff", worst["hidden"], tol)
    report.worst("tiny causal logsumexp_last abs diff", worst["lse"], tol)
    report.worst("tiny causal probe_logits_last max abs diff", worst["probe"], tol)
    report.worst("tiny causal per_token_nll max abs diff", worst["nll"], tol)
    report.worst("tiny causal embedding_l2 max abs diff", worst["emb"], tol)


def check_tiny_seqcls(args, report, d):
    import torch
    from transformers import AutoModelForSequenceClassification

    model, info = AutoModelForSequenceClassification.from_pretrained(
        d, dtype=torch.float32, output_loading_info=True, attn_implementation="eager")
    problems = common.loading_problems(info)
    report.worst("tiny seqcls: missing+unexpected+mismatched keys and errors loading into "
                 "Qwen3ForSequenceClassification",
                 sum(len(v) for v in problems.values()), 0)
    for k, v in problems.items():
        report.fail(f"tiny seqcls {k}: {v[:10]}")
    if model.config.num_labels != NUM_LABELS or model.config.pad_token_id != PAD_ID:
        report.fail(f"tiny seqcls config: num_labels {model.config.num_labels}, pad_token_id "
                    f"{model.config.pad_token_id} (expected {NUM_LABELS}, {PAD_ID})")
    model.eval()

    worst_h = worst_s = 0.0
    for ids in test_sequences(model.config.vocab_size):
        # qsenti forward scores the last token; HF the last non-pad one: keep them the same token.
        if ids[-1] == PAD_ID:
            continue
        q = qsenti_forward(args, d, ids)
        if "score_logits_last" not in q:
            raise CheckFailure(f"qsenti forward on a sequence classifier printed no score_logits_last "
                               f"(keys: {sorted(q)})")
        x = torch.tensor([ids])
        with torch.no_grad():
            hidden = model.model(input_ids=x).last_hidden_state[0]
            score = model(input_ids=x).logits[0]
        dh, ds = max_abs(q["last_hidden_state"], hidden), max_abs(q["score_logits_last"], score)
        print(f"  tiny seqcls len {len(ids):3d}: hidden {dh:.2e}, score {ds:.2e}")
        worst_h, worst_s = max(worst_h, dh), max(worst_s, ds)
    report.worst("tiny seqcls last_hidden_state max abs diff", worst_h, common.FP32_ATOL)
    report.worst("tiny seqcls score_logits_last max abs diff", worst_s, common.FP32_ATOL)


# ---------------------------------------------------------------- big presets: shapes only

def presets_from_source(source):
    """{preset: {config field: value}} as Qwen3Config::preset sets them."""
    path = source / "src" / "model" / "config.cpp"
    text = path.read_text()
    body = re.search(r"Qwen3Config\s+Qwen3Config::preset\s*\([^)]*\)\s*\{(.*?)\n\}", text, re.S)
    lam = body and re.search(r"auto\s+set\s*=\s*\[&\]\s*\(([^)]*)\)\s*\{(.*?)\};", body.group(1), re.S)
    if not lam:
        raise CheckFailure(f"{path}: cannot find Qwen3Config::preset and its set(...) lambda; update this check")
    params = [p.strip().split()[-1] for p in lam.group(1).split(",")]
    field_of = {v: f for f, v in re.findall(r"c\.(\w+)\s*=\s*(\w+)\s*;", lam.group(2))}
    presets = {}
    for name, vals in re.findall(r'name\s*==\s*"([^"]+)"\s*\)\s*set\s*\(([^)]*)\)', body.group(1)):
        vals = [v.strip() for v in vals.split(",")]
        if len(vals) != len(params) or any(p not in field_of for p in params):
            raise CheckFailure(f"{path}: cannot read preset {name!r}: set({', '.join(vals)})")
        conv = lambda v: v == "true" if v in ("true", "false") else int(v)  # noqa: E731
        presets[name] = {field_of[p]: conv(v) for p, v in zip(params, vals)}
    if set(presets) != {"tiny", *RELEASE_SHAPES}:
        raise CheckFailure(f"{path}: found presets {sorted(presets)}, expected tiny, 0.6B, 4B, 8B")
    return presets


def config_for_preset(template, shape):
    """`template` (a tiny init's config.json) with another preset's shape."""
    cfg = dict(template)
    if cfg.get("max_window_layers") == cfg["num_hidden_layers"]:  # to_json derives it from the depth
        cfg["max_window_layers"] = shape["num_hidden_layers"]
    cfg.update(shape)
    return cfg


def write_safetensors_header_only(path, shapes):
    """A BF16 safetensors file with these tensors whose data is one sparse hole:
    the real size on paper, no disk blocks, nothing ever read."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = 2
        for s in shape:
            n *= s
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)


def hf_checkpoint_shapes(model_dir, seqcls):
    """{name: shape} of what transformers saves for this config (tied copies once)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    cfg = AutoConfig.from_pretrained(model_dir)
    cls = AutoModelForSequenceClassification if seqcls else AutoModelForCausalLM
    with torch.device("meta"):
        model = cls.from_config(cfg)
    every_param = dict(model.named_parameters(remove_duplicate=False))
    kept = dict(model.named_parameters())  # de-duplicated: a tied lm_head is not saved again
    shapes = {n: tuple(t.shape) for n, t in model.state_dict().items() if n in kept or n not in every_param}
    return cfg, shapes


def check_big_presets(args, report, tmp, tiny_causal, tiny_seqcls):
    presets = presets_from_source(args.source)
    templates = {False: json.loads((tiny_causal / "config.json").read_text()),
                 True: json.loads((tiny_seqcls / "config.json").read_text())}

    # The reconstruction must give back what init really wrote for tiny.
    for seqcls, real in templates.items():
        rebuilt = config_for_preset(real, presets["tiny"])
        if rebuilt != real:
            diff = {k: (real.get(k), rebuilt.get(k)) for k in set(real) | set(rebuilt) if real.get(k) != rebuilt.get(k)}
            raise CheckFailure(f"preset values read from config.cpp do not reproduce init's tiny config: {diff}")

    # Fields every preset shares, as init writes them.
    shared_bad = {k: templates[False].get(k) for k, v in RELEASE_COMMON.items() if templates[False].get(k) != v}
    report.worst("config fields shared by all presets differing from the Qwen3 releases", len(shared_bad), 0)
    if shared_bad:
        report.fail(f"init's config.json has {shared_bad}, the releases {({k: RELEASE_COMMON[k] for k in shared_bad})}")

    for name, release in RELEASE_SHAPES.items():
        bad = {k: (presets[name].get(k), v) for k, v in release.items() if presets[name].get(k) != v}
        for seqcls in (False, True):
            kind = "seqcls" if seqcls else "causal"
            d = tmp / f"preset-{name}-{kind}"
            d.mkdir()
            cfg_json = config_for_preset(templates[seqcls], presets[name])
            (d / "config.json").write_text(json.dumps(cfg_json, indent=2))

            # qsenti's expected tensors: info on a checkpoint holding none lists them all as missing.
            write_safetensors_header_only(d / "model.safetensors", {})
            q = common.qsenti_json(args.qsenti, ["info", "--json", d], check=False)
            q_names = set(q.get("missing_tensors", []))
            if not seqcls:
                read_back = {k: q.get(k) for k in release}
                bad.update({f"info {k}": (read_back[k], v) for k, v in release.items() if read_back[k] != v})
                if q.get("vocab_size") != RELEASE_COMMON["vocab_size"] or q.get("rope_theta") != RELEASE_COMMON["rope_theta"]:
                    bad["info vocab/rope"] = ((q.get("vocab_size"), q.get("rope_theta")), "151936, 1e6")

            cfg, hf_shapes = hf_checkpoint_shapes(d, seqcls)
            hf_bad = {k: getattr(cfg, k, None) for k in release if getattr(cfg, k, None) != release[k]}
            rope = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", getattr(cfg, "rope_theta", None))
            if rope != RELEASE_COMMON["rope_theta"] or cfg.rms_norm_eps != RELEASE_COMMON["rms_norm_eps"]:
                hf_bad["rope_theta/rms_norm_eps"] = (rope, cfg.rms_norm_eps)
            if hf_bad:
                report.fail(f"{name} {kind}: transformers reads the config as {hf_bad}")

            only_q, only_hf = sorted(q_names - set(hf_shapes)), sorted(set(hf_shapes) - q_names)
            report.worst(f"preset {name} {kind}: tensor names differing from transformers "
                         f"({len(hf_shapes)} expected)", len(only_q) + len(only_hf), 0)
            if only_q or only_hf:
                report.fail(f"{name} {kind}: only qsenti expects {only_q[:8]}, only transformers {only_hf[:8]}")

            # Shapes: info refuses a checkpoint whose tensor shape differs from what the config implies.
            write_safetensors_header_only(d / "model.safetensors", hf_shapes)
            proc = common.run_qsenti(args.qsenti, ["info", "--json", d], check=False)
            err = proc.stderr.decode("utf-8", "replace").strip()
            shape_bad = 0 if proc.returncode == 0 else 1
            report.worst(f"preset {name} {kind}: qsenti info refusals of transformers' shapes", shape_bad, 0)
            if shape_bad:
                report.fail(f"{name} {kind}: qsenti info rejects transformers' checkpoint layout: {err}")
            (d / "model.safetensors").unlink()
        report.worst(f"preset {name}: shape fields differing from the Qwen3 release", len(bad), 0)
        if bad:
            report.fail(f"preset {name} (qsenti, release): {bad}")


def body(report):
    args = common.parse_args(__doc__.splitlines()[0])
    common.setup_torch()
    with tempfile.TemporaryDirectory(prefix="qsenti-interop-") as t:
        tmp = Path(t)
        causal, seqcls = init_tiny(args, tmp, 0), init_tiny(args, tmp, NUM_LABELS)
        common.section(report, "tiny causal", check_tiny_causal, args, report, causal)
        common.section(report, "tiny seqcls", check_tiny_seqcls, args, report, seqcls)
        common.section(report, "big presets", check_big_presets, args, report, tmp, causal, seqcls)


if __name__ == "__main__":
    common.main_guard("check_init_forward", body)
