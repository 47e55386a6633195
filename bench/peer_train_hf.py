#!/usr/bin/env python3
"""The peer of bench_train: the same recipe in transformers + peft (Python),
on the same model folder, texts, batch and sequence length, for a side-by-side
tokens/s and peak memory. Used by scripts/gpu_check.sh; prints one JSON line.

  peer_train_hf.py --model DIR --data TSV [--device cuda] [--batch 16]
      [--max-length 128] [--steps 20] [--warmup 3] [--lora-r 16] [--full]
      [--grad-checkpointing] [--forward-only]
"""
import argparse, json, time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--grad-checkpointing", action="store_true")
    ap.add_argument("--forward-only", action="store_true", help="a padded inference pipeline instead of training")
    a = ap.parse_args()

    dev = torch.device(a.device)
    tok = AutoTokenizer.from_pretrained(a.model)
    texts = [line.split("\t", 1)[0] for line in open(a.data, encoding="utf-8").read().splitlines()[1:] if line]
    dtype = torch.float32 if a.full else torch.bfloat16
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=2, dtype=dtype).to(dev)
    model.config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else 151643
    n_steps = a.warmup + a.steps
    # Batches of texts in file order, padded to their longest (what a plain
    # transformers pipeline does); qsenti's batches are length-grouped.
    batches = [texts[i * a.batch:(i + 1) * a.batch] for i in range(n_steps)]
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(dev)
    real = padded = 0
    t_total = 0.0
    if a.forward_only:
        model.eval()

        def step(enc, b):
            with torch.no_grad():
                model(**enc).logits.float().softmax(-1).cpu()
    else:
        if not a.full:
            from peft import LoraConfig, get_peft_model
            cfg = LoraConfig(task_type="SEQ_CLS", r=a.lora_r, lora_alpha=2 * a.lora_r, lora_dropout=0.05,
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
            model = get_peft_model(model, cfg)
        if a.grad_checkpointing:
            model.gradient_checkpointing_enable()
            if not a.full:
                model.enable_input_require_grads()
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)

        def step(enc, b):
            labels = torch.zeros(len(b), dtype=torch.long, device=dev)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
                loss = model(**enc, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            opt.zero_grad()

    # One timed loop for both modes: tokenisation outside the clock, the
    # device synchronised inside it, the first --warmup batches not counted.
    for s, b in enumerate(batches):
        enc = tok(b, padding=True, truncation=True, max_length=a.max_length, return_tensors="pt").to(dev)
        t0 = time.perf_counter()
        step(enc, b)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if s >= a.warmup:
            t_total += time.perf_counter() - t0
            real += int(enc["attention_mask"].sum())
            padded += enc["input_ids"].numel()
    out = {"engine": "transformers+peft", "mode": "forward" if a.forward_only else ("full" if a.full else "lora"),
           "tokens_per_s": real / t_total, "padded_tokens_per_s": padded / t_total,
           "padding_overhead": padded / real - 1,
           "peak_device_bytes": torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
