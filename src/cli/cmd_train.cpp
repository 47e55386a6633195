// qsenti train: one command for the three methods.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "device/device.h"
#include "cli/size_prompt.h"
#include "train/train_options.h"
#include "util/error.h"
#include "util/runtime.h"

namespace qsenti::cli {

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand("train", "Train a sentiment classifier (methods A embedding, B lora, C classifier)");
  cmd->add_option("--method", o->method,
                  "embedding: frozen Qwen3-Embedding + small head (A); lora: LoRA instruction tuning with label "
                  "words (B); classifier: score head on Qwen3, LoRA or --full (C)")
      ->required()
      ->check(CLI::IsMember({"embedding", "lora", "classifier"}));
  cmd->add_option("--model", o->model, "base model folder (Hugging Face layout) or Hub repo id (Qwen/Qwen3-0.6B: from the Hub cache, downloaded when missing); default models/Qwen3[-Embedding]-<size>, else that size's repo if cached");
  cmd->add_option("--model-size", o->model_size,
                  "0.6B, 4B or 8B: picks defaults (batch, lr, LoRA rank) and the conventional folders; asked for on "
                  "a terminal when neither --model nor --model-size is given (0.6B in scripts)")
      ->check(CLI::IsMember({"0.6B", "4B", "8B"}));
  cmd->add_option("--train", o->train_path, "training data: TSV (text<TAB>label), CSV (label,review), or JSON lines")->required();
  cmd->add_option("--valid", o->valid_path, "validation data; default: a stratified, seeded split of --train");
  cmd->add_option("--test", o->test_path, "test data, evaluated once with the best checkpoint");
  cmd->add_option("--format", o->data_format, "data format: auto (from the extension), tsv, csv, jsonl")->capture_default_str();
  cmd->add_option("--out", o->out, "run folder to write; default models/<method>-<size>");
  cmd->add_flag("--skip-bad-rows", o->skip_bad_rows, "skip malformed rows (reported) instead of stopping");
  cmd->add_option("--valid-fraction", o->valid_fraction, "share of --train held out when no --valid is given")->capture_default_str();

  cmd->add_option("--epochs", o->epochs, "passes over the training data (default: by method)");
  cmd->add_option("--batch-size", o->batch_size, "texts per step (default by size: A 32/16/8, B and C 16/8/4)");
  cmd->add_option("--lr", o->lr, "peak learning rate (default by size and method; C: LoRA 2e-4/1e-4/5e-5 for 0.6B/4B/8B, --full 2e-5; a model of no known size, e.g. a small one trained from scratch: batch 32 and lr 1e-3 with --full, 2e-4 with LoRA; C trains 3 epochs by default)");
  cmd->add_option("--seed", o->seed, "seed for the split, shuffling, dropout and initialisation")->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "tokens per example at most (longer texts are truncated)")->capture_default_str();
  add_dtype_option(cmd, o->dtype, "auto, fp32 or bf16 (bf16 autocast; auto = bf16 for real-size models)");
  add_device_option(cmd, o->device);
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--warmup-ratio", o->warmup_ratio, "share of steps with linear warm-up")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "learning-rate decay after warm-up: cosine, linear or constant")
      ->check(CLI::IsMember({"cosine", "linear", "constant"}))
      ->capture_default_str();
  cmd->add_option("--grad-accum", o->grad_accum, "batches per optimizer step (gradient accumulation)")->capture_default_str();
  cmd->add_option("--max-grad-norm", o->max_grad_norm, "gradient clipping norm (0 = off)")->capture_default_str();
  cmd->add_flag("--grad-checkpointing", o->grad_checkpointing, "recompute activations in backward (long texts, less memory)");
  cmd->add_option("--eval-every", o->eval_every, "validate every N steps (0 = each epoch)")->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "checkpoint every N steps (0 = at each validation)")->capture_default_str();
  cmd->add_option("--resume", o->resume, "continue an interrupted run from its folder");
  cmd->add_option("--max-steps", o->max_steps, "stop after N optimizer steps (0 = run all epochs)")->capture_default_str();

  cmd->add_option("--head", o->head, "A: head on the vectors, mlp (Linear-ReLU-Dropout-Linear) or logreg")
      ->check(CLI::IsMember({"mlp", "logreg"}))
      ->capture_default_str();
  cmd->add_option("--instruction", o->instruction, "A: task text; embeds \"Instruct: {task}\\nQuery:{text}\"");
  cmd->add_option("--cache-dir", o->cache_dir, "A: embedding cache folder (default $QSENTI_CACHE or ~/.cache/qsenti)");
  cmd->add_flag("--no-cache", o->no_cache, "A: neither read nor write the embedding cache");

  cmd->add_flag("--full", o->full, "C: train all weights instead of LoRA adapters");
  cmd->add_option("--lora-r", o->lora_r, "B/C: LoRA rank (default by size 16/32/64)");
  cmd->add_option("--lora-alpha", o->lora_alpha, "B/C: LoRA alpha (default by size 32/64/128)");
  cmd->add_option("--lora-dropout", o->lora_dropout, "B/C: dropout on the LoRA input")->capture_default_str();
  cmd->add_flag("--rslora", o->use_rslora, "B/C: rank-stabilised scaling alpha/sqrt(r)");
  cmd->add_option("--lora-targets", o->lora_targets, "B/C: projections to adapt, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--template", o->prompt_template,
                  "B: prompt: default (the original Chinese instruction), chat (Qwen3 chat format), or a file with {text}")
      ->capture_default_str();
  cmd->add_option("--label-words", o->label_words, "B: answer word per label, comma separated (default 负面,正面)")
      ->delimiter(',');
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress output");

  cmd->footer(
      "Examples:\n"
      "  qsenti train --method embedding --model-size 0.6B --train data/weibo2018/train.tsv\n"
      "      (base model models/Qwen3-Embedding-0.6B, run written to models/embedding-0.6B)\n"
      "  qsenti train --method classifier --full --model /path/to/Qwen3-0.6B --train train.tsv --out runs/c\n"
      "  qsenti train --method lora --model-size 4B --train train.tsv --test test.tsv\n"
      "The run folder holds manifest.json (method, base model, labels, hyperparameters, metrics) and the\n"
      "method's weights; use it with `qsenti eval --run` and `qsenti predict --run`. Ctrl-C keeps the last\n"
      "checkpoint; --resume RUN continues. Exit codes: 0 success, 1 failure, 2 bad command line,\n"
      "3 bad input (data, model folder), 130 interrupted.");
  cmd->callback([o] {
    resolve_device(o->device);  // a GPU asked for where there is none fails before anything loads
    if (o->threads > 0) init_runtime(o->threads);
    // Without --model-size on a terminal, ask for it as the original did;
    // missing --model/--out become the conventional folders.
    if (o->resume.empty())
      complete_train_paths(o->model, o->out, o->model_size, o->method, stdin_is_terminal(), std::cin, std::cout,
                           std::cerr);
    std::string run;
    if (o->method == "embedding") run = train_embedding_method(*o);
    else if (o->method == "lora") run = train_lora_method(*o);
    else run = train_classifier_method(*o);
    std::cout << "run saved in " << run << "\n";
  });
}

}  // namespace qsenti::cli
