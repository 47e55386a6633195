"""Method B both ways, judged by transformers and peft.

 4. a method B run trained by qsenti, loaded as a peft CAUSAL_LM adapter,
    gives the label-word probabilities of qsenti's one-pass scoring; a peft
    CAUSAL_LM adapter trained here gives in qsenti (`--run ADAPTER
    --label-words 负面,正面`) what peft gives;
 7. `qsenti export --format hf` of the run loads as Qwen3ForCausalLM with no
    missing or unexpected keys and scores the same.
The prompt is qsenti's recipe, read from the run's manifest: template prefix,
text and suffix tokenised separately (special tokens parsed in the template,
not in the text), the text truncated to fit max_length; each label word
scored alone (summed log p of its tokens after the prompt), softmax over labels.
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
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

MAX_LENGTH = 96
TOL = 1e-4


class Prompt:
    def __init__(self, tok, manifest):
        extra = manifest["extra"]
        self.tok = tok
        self.prefix = tok.encode(extra["template_prefix"], add_special_tokens=False)
        self.suffix = tok.encode(extra["template_suffix"], add_special_tokens=False)
        self.end = tok.convert_tokens_to_ids(extra.get("end_token", "<|im_end|>"))
        self.words = [tok.encode(w, add_special_tokens=False, split_special_tokens=True)
                      for w in extra["label_words"]]
        self.budget = extra["max_length"] - len(self.prefix) - len(self.suffix) - max(len(w) + 1 for w in self.words)
        ambiguous = any(a != b and b[:len(a)] == a for a in self.words for b in self.words)
        self.scored = [w + [self.end] if ambiguous else w for w in self.words]

    def ids(self, text):
        body = self.tok.encode(text, add_special_tokens=False, split_special_tokens=True)[:self.budget]
        return self.prefix + body + self.suffix

    def training_example(self, text, label):
        return self.ids(text), self.words[label] + [self.end]


def peft_label_probs(model, prompt, texts):
    model.eval()
    out = []
    with torch.no_grad():
        for t in texts:
            p = prompt.ids(t)
            scores = []
            for w in prompt.scored:
                x = torch.tensor([p + w[:-1]])
                logp = torch.log_softmax(model(input_ids=x).logits[0].float(), -1)
                scores.append(sum(logp[len(p) - 1 + i, tok_id].item() for i, tok_id in enumerate(w)))
            out.append(torch.softmax(torch.tensor(scores, dtype=torch.float64), -1))
    return torch.stack(out)


def train_causal_lm(model, prompt, rows, lr, steps=6):
    """A few steps of peft training on the answer tokens, as qsenti's loss."""
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    for s in range(steps):
        p, a = prompt.training_example(*rows[s])
        x = torch.tensor([p + a])
        labels = torch.tensor([[-100] * len(p) + a])
        model(input_ids=x, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


def main(report):
    args = common.parse_args(__doc__)
    q = util.Qsenti(args.qsenti)
    tiny = os.path.join(args.source, "tests/fixtures/refs/tiny-qwen3")
    tok = AutoTokenizer.from_pretrained(os.path.join(args.source, "assets/qwen3-tokenizer"))
    rows = util.weibo_rows(args.source)
    train_rows, texts = rows[::50][:160], [t for t, _ in rows[11::100][:60]]
    with tempfile.TemporaryDirectory(prefix="qsenti-interop-") as tmp:
        train = os.path.join(tmp, "train.tsv")
        util.write_tsv(train, train_rows)
        texts_file = os.path.join(tmp, "texts.txt")
        util.write_lines(texts_file, texts)
        run = os.path.join(tmp, "b")
        q.run("train", "--method", "lora", "--model", tiny, "--train", train, "--out", run, "--epochs", "1",
              "--batch-size", "16", "--max-length", str(MAX_LENGTH), "--dtype", "fp32", "--lr", "5e-3",
              "--lora-r", "4", "--lora-alpha", "8", "--quiet")
        manifest = json.load(open(os.path.join(run, "manifest.json"), encoding="utf-8"))
        prompt = Prompt(tok, manifest)
        ours, names = q.predict_file(run, texts_file, os.path.join(tmp, "p.jsonl"))
        base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
        peft_model = PeftModel.from_pretrained(base, os.path.join(run, "adapter"))
        util.report_diff(report, "B run: qsenti one-pass scoring vs peft (fp32)", ours,
                           peft_label_probs(peft_model, prompt, texts), TOL)

        # A CAUSAL_LM adapter trained by peft, opened by qsenti.
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
        trained = get_peft_model(base, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=8, lora_dropout=0.0,
                                                  target_modules=["q_proj", "v_proj", "down_proj"]))
        train_causal_lm(trained, prompt, train_rows, lr=5e-3)
        adapter = os.path.join(tmp, "peft-causal")
        trained.save_pretrained(adapter)
        words = manifest["extra"]["label_words"]
        theirs = peft_label_probs(trained, prompt, texts)
        ours_peft, names = q.predict_file(adapter, texts_file, os.path.join(tmp, "p2.jsonl"),
                                          "--label-words", ",".join(words), "--max-length", str(MAX_LENGTH))
        util.check(names == words, f"labels named by the label words: {names}")
        util.report_diff(report, "peft CAUSAL_LM adapter: qsenti vs peft (fp32)", ours_peft, theirs, TOL)

        # export --format hf: a plain Qwen3ForCausalLM with the LoRA merged.
        out = os.path.join(tmp, "export-b")
        q.run("export", "--run", run, "--format", "hf", "--out", out)
        exported, info = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, output_loading_info=True)
        util.assert_clean_load(info, "export of the B run")
        saved = json.load(open(os.path.join(out, "qsenti_prompt.json"), encoding="utf-8"))
        util.check(saved["label_words"] == words, "qsenti_prompt.json holds the label words")
        util.report_diff(report, "export --format hf (B): transformers vs qsenti (fp32)", ours,
                           peft_label_probs(exported, prompt, texts), TOL)


if __name__ == "__main__":
    common.main_guard("check_lora_b", main)
