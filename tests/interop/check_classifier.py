"""Method C both ways, judged by transformers and peft themselves.

 2. runs trained by qsenti (LoRA and --full) give in transformers/peft the
    probabilities `qsenti predict` gives, on 200 bundled Weibo texts;
 3. a SEQ_CLS LoRA trained by peft here, and a transformers full classifier
    folder, give in qsenti the probabilities peft/transformers give;
 7. `qsenti export --format hf` folders load with no missing or unexpected
    keys and predict what qsenti predicts.
fp32 within 1e-4; bf16 differences are reported, not asserted.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import interop_util as util  # noqa: E402

torch = util.torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

MAX_LENGTH = 64
PAD = 151643
TOL = 1e-4


def hf_probs(model, tok, texts, batch=16):
    """transformers' own pipeline: right padding, its pooling, softmax."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            enc = tok(texts[i:i + batch], padding=True, truncation=True, max_length=MAX_LENGTH,
                      return_tensors="pt", add_special_tokens=False, split_special_tokens=True)
            logits = model(**enc).logits.float()
            out.append(torch.softmax(logits, -1))
    return torch.cat(out)


def load_seqcls(path, **kw):
    model, info = AutoModelForSequenceClassification.from_pretrained(
        path, dtype=kw.pop("dtype", torch.float32), output_loading_info=True, **kw)
    return model, info


def main(report):
    args = common.parse_args(__doc__)
    q = util.Qsenti(args.qsenti)
    tiny = os.path.join(args.source, "tests/fixtures/refs/tiny-qwen3")
    tok = AutoTokenizer.from_pretrained(os.path.join(args.source, "assets/qwen3-tokenizer"))
    tok.padding_side = "right"
    rows = util.weibo_rows(args.source)
    train_rows, texts = rows[::40][:240], [t for t, _ in rows[7::50][:200]]
    with tempfile.TemporaryDirectory(prefix="qsenti-interop-") as tmp:
        train = os.path.join(tmp, "train.tsv")
        util.write_tsv(train, train_rows)
        texts_file = os.path.join(tmp, "texts.txt")
        util.write_lines(texts_file, texts)

        def qsenti_probs(run, *extra):
            return q.predict_file(run, texts_file, os.path.join(tmp, "p.jsonl"), *extra)

        # 2. qsenti trains, transformers/peft predict.
        common_train = ["--method", "classifier", "--model", tiny, "--train", train, "--epochs", "1",
                        "--batch-size", "16", "--max-length", str(MAX_LENGTH), "--dtype", "fp32", "--quiet"]
        lora_run, full_run = os.path.join(tmp, "lora"), os.path.join(tmp, "full")
        q.run("train", *common_train, "--out", lora_run, "--lora-r", "4", "--lora-alpha", "8", "--lr", "5e-3")
        q.run("train", *common_train, "--out", full_run, "--full", "--lr", "1e-3")
        ours_lora, names = qsenti_probs(lora_run)
        base, info = load_seqcls(tiny, num_labels=len(names), pad_token_id=PAD)
        peft_model = PeftModel.from_pretrained(base, os.path.join(lora_run, "adapter"))
        util.report_diff(report, "C LoRA run: qsenti predict vs peft (fp32)", ours_lora, hf_probs(peft_model, tok, texts), TOL)

        ours_full, _ = qsenti_probs(full_run)
        full_model, info = load_seqcls(os.path.join(full_run, "model"))
        util.assert_clean_load(info, "the --full run's model folder")
        util.check(full_model.config.id2label == {0: "negative", 1: "positive"}, f"id2label {full_model.config.id2label}")
        util.report_diff(report, "C full run: qsenti predict vs transformers (fp32)", ours_full,
                           hf_probs(full_model, tok, texts), TOL)
        # bf16: reported only (two engines round differently).
        ours_bf16, _ = qsenti_probs(full_run, "--dtype", "bf16")
        full_bf16, _ = load_seqcls(os.path.join(full_run, "model"), dtype=torch.bfloat16)
        util.report_diff(report, "C full run bf16: qsenti vs transformers (reported)", ours_bf16,
                           hf_probs(full_bf16, tok, texts), None)

        # 3. peft / transformers train, qsenti predicts.
        torch.manual_seed(0)
        base, _ = load_seqcls(tiny, num_labels=2, pad_token_id=PAD)
        cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0,
                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
        peft_trained = get_peft_model(base, cfg)
        util.train_a_few_steps(peft_trained, tok, train_rows, MAX_LENGTH, lr=5e-3)
        peft_dir = os.path.join(tmp, "peft-seqcls")
        peft_trained.save_pretrained(peft_dir)
        theirs = hf_probs(peft_trained, tok, texts)
        # A Hugging Face folder records no max_length: give the one transformers used.
        ours, _ = qsenti_probs(peft_dir, "--max-length", str(MAX_LENGTH))
        util.report_diff(report, "peft SEQ_CLS adapter: qsenti predict vs peft (fp32)", ours, theirs, TOL)

        torch.manual_seed(1)
        hf_full, _ = load_seqcls(tiny, num_labels=3, pad_token_id=PAD,
                                 id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2})
        util.train_a_few_steps(hf_full, tok, [(t, int(l) + (i % 2)) for i, (t, l) in enumerate(train_rows)],
                                 MAX_LENGTH, lr=1e-3)
        hf_dir = os.path.join(tmp, "hf-full")
        hf_full.save_pretrained(hf_dir)
        ours, names = qsenti_probs(hf_dir, "--max-length", str(MAX_LENGTH))
        util.check(names == ["neg", "neu", "pos"], f"labels from id2label: {names}")
        util.report_diff(report, "transformers full classifier: qsenti predict vs transformers (fp32)", ours,
                           hf_probs(hf_full, tok, texts), TOL)

        # 7. export --format hf, loaded by transformers.
        for run, ours_run, what in ((lora_run, ours_lora, "LoRA"), (full_run, ours_full, "full")):
            out = os.path.join(tmp, "export-" + what)
            q.run("export", "--run", run, "--format", "hf", "--out", out)
            exported, info = load_seqcls(out)
            util.assert_clean_load(info, f"export of the {what} run")
            util.report_diff(report, f"export --format hf ({what}): transformers vs qsenti predict (fp32)", ours_run,
                               hf_probs(exported, tok, texts), TOL)
        meta = json.load(open(os.path.join(tmp, "export-LoRA", "config.json")))
        util.check(meta["architectures"] == ["Qwen3ForSequenceClassification"], f"architectures {meta['architectures']}")


if __name__ == "__main__":
    common.main_guard("check_classifier", main)
