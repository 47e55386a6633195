"""What the method checks (check_classifier.py, check_lora_b.py) share on top
of common.py: the bundled Weibo rows, `predict --file` as a tensor, a few
training steps in transformers, and probability comparisons."""
import json
import os

import common

torch = common.setup_torch()


def weibo_rows(source):
    rows = []
    with open(os.path.join(source, "data/weibo2018/train.tsv"), encoding="utf-8") as f:
        for line in f:
            text, _, label = line.rstrip("\n").rpartition("\t")
            if text:
                rows.append((text, int(label)))
    return rows


def write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for text, label in rows:
            f.write(f"{text}\t{label}\n")


def write_lines(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t.replace("\n", " ") + "\n")


class Qsenti:
    def __init__(self, binary):
        self.binary = binary

    def run(self, *args):
        return common.run_qsenti(self.binary, args).stdout.decode("utf-8")

    def predict_file(self, run, texts_file, out, *extra):
        """Probabilities [N, K] (float64) and the label names, from `predict --file`."""
        self.run("predict", "--run", run, "--file", texts_file, "--format", "plain", "--out", out,
                 "--out-format", "jsonl", "--quiet", "--restart", *extra)
        rows = [json.loads(line) for line in open(out, encoding="utf-8")]
        names = list(rows[0]["probabilities"].keys())
        return torch.tensor([[r["probabilities"][n] for n in names] for r in rows], dtype=torch.float64), names


def check(ok, message):
    if not ok:
        raise common.CheckFailure(message)


def report_diff(report, what, ours, theirs, tol):
    """WORST max |ours - theirs| over probabilities, with the argmax agreement;
    tol None reports without judging."""
    ours, theirs = torch.as_tensor(ours, dtype=torch.float64), torch.as_tensor(theirs, dtype=torch.float64)
    if ours.shape != theirs.shape:
        report.fail(f"{what}: shapes {tuple(ours.shape)} vs {tuple(theirs.shape)}")
        return
    worst = (ours - theirs).abs().max().item()
    agree = (ours.argmax(-1) == theirs.argmax(-1)).double().mean().item()
    report.worst(f"{what} [labels agree {agree:.4f} on {ours.shape[0]} texts]", worst,
                 tol if tol is not None else "reported", ok=True if tol is None else worst <= tol)


def assert_clean_load(info, what):
    problems = {k: v for k, v in common.loading_problems(info).items()
                if k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    check(not problems, f"{what}: transformers reports {problems}")


def train_a_few_steps(model, tok, rows, max_length, lr, steps=6, batch=16):
    """A few AdamW steps with transformers' own loss: weights that moved."""
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    for s in range(steps):
        chunk = rows[s * batch:(s + 1) * batch]
        enc = tok([t for t, _ in chunk], padding=True, truncation=True, max_length=max_length,
                  return_tensors="pt", add_special_tokens=False, split_special_tokens=True)
        model(**enc, labels=torch.tensor([l for _, l in chunk])).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
