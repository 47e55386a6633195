// qsenti train: one command for the three methods.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "device/device.h"
#include "dist/dist_env.h"
#include "dist/launcher.h"
#include "dist/process_group.h"
#include "cli/size_prompt.h"
#include "methods/method.h"
#include "train/train_options.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/runtime.h"

namespace qsenti::cli {

namespace {

// Options only some methods read (methods/method.h). Given to another method
// they would be silently ignored, so they are refused (exit 2) before
// anything loads.
void refuse_options_of_other_methods(const CLI::App& cmd, const Method& method) {
  for (const Method* other : all_methods())
    for (const std::string& option : other->options) {
      if (cmd.count(option) == 0) continue;
      if (std::find(method.options.begin(), method.options.end(), option) != method.options.end()) continue;
      std::string which;
      for (const Method* m : all_methods())
        if (std::find(m->options.begin(), m->options.end(), option) != m->options.end())
          which += (which.empty() ? "" : " and ") + m->name;
      std::string why = option + " is not used by method " + method.name + " (only by " + which + ")";
      if (option == "--resume" && !method.no_resume.empty()) why += "; " + method.no_resume;
      throw Error(why, ExitCode::kUsage);
    }
}

// --method (or, with --resume alone, the method the run folder records) and
// --train are required; options the method does not read are refused.
void check_train_command_line(const CLI::App& cmd, TrainOptions& o) {
  if (o.method.empty()) {
    if (o.resume.empty())
      throw Error("--method is required (" + method_names() + "), or --resume RUN to continue a run", ExitCode::kUsage);
    o.method = saved_train_options(o.resume).method;
  }
  if (o.resume.empty() && o.train_path.empty()) throw Error("--train is required", ExitCode::kUsage);
  refuse_options_of_other_methods(cmd, method_named(o.method, o.resume.empty() ? "--method" : o.resume));
}

// Threads for one of several workers on this host: OMP_NUM_THREADS when the
// launcher (ours or torchrun) set it, else an equal share of the cores.
int worker_threads(const dist::DistEnv& env) {
  if (const char* t = std::getenv("OMP_NUM_THREADS"); t && std::atoi(t) > 0) return std::atoi(t);
  return std::max(1, available_cores() / env.local_world_size);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto overwrite = std::make_shared<bool>(false);
  auto launch = std::make_shared<dist::LaunchOptions>();
  auto* cmd = app.add_subcommand("train", "Train a sentiment classifier (methods A embedding, B lora, C classifier)");
  std::string method_help;
  std::vector<std::string> names;
  for (const Method* m : all_methods()) {
    method_help += (method_help.empty() ? "" : "; ") + m->name + ": " + m->summary + " (" + m->letter + ")";
    names.push_back(m->name);
  }
  cmd->add_option("--method", o->method, method_help)->check(CLI::IsMember(names));
  cmd->add_option("--model", o->model, "base model folder (Hugging Face layout) or repo id (Qwen/Qwen3-0.6B: from the Hub cache, downloaded when missing; modelscope:Qwen/Qwen3-0.6B or QSENTI_MODEL_SOURCE=modelscope: from ModelScope); default models/Qwen3[-Embedding]-<size>, else that size's repo if cached");
  cmd->add_option("--model-size", o->model_size,
                  "0.6B, 4B or 8B: picks defaults (batch, lr, LoRA rank) and the conventional folders; asked for on "
                  "a terminal when neither --model nor --model-size is given (0.6B in scripts)")
      ->check(CLI::IsMember({"0.6B", "4B", "8B"}));
  cmd->add_option("--train", o->train_path, "training data: TSV (text<TAB>label), CSV (label,review), or JSON lines");
  cmd->add_option("--valid", o->valid_path, "validation data; default: a stratified, seeded split of --train");
  cmd->add_option("--test", o->test_path, "test data, evaluated once with the best checkpoint");
  cmd->add_option("--format", o->data_format, "data format: auto (from the extension), tsv, csv, jsonl")->capture_default_str();
  add_column_options(cmd, o->text_column, o->label_column);
  cmd->add_option("--out", o->out, "run folder to write; default models/<method>-<size>");
  cmd->add_flag("--skip-bad-rows", o->skip_bad_rows, "skip malformed rows (reported) instead of stopping");
  cmd->add_option("--labels", o->labels,
                  "the classes, comma separated, in order (default: inferred from --train; a label that looks "
                  "like a slip, such as 7 or good among 0/1, is refused unless declared here)")
      ->delimiter(',');
  cmd->add_option("--valid-fraction", o->valid_fraction, "share of --train held out when no --valid is given")
      ->check(open_fraction())
      ->capture_default_str();

  cmd->add_option("--epochs", o->epochs, "passes over the training data (default: by method)")->check(positive());
  cmd->add_option("--batch-size", o->batch_size, "texts per step (default by size: A 32/16/8, B and C 16/8/4)")
      ->check(positive());
  cmd->add_option("--lr", o->lr, "peak learning rate (default by size and method; C: LoRA 2e-4/1e-4/5e-5 for 0.6B/4B/8B, --full 2e-5; a model of no known size, e.g. a small one trained from scratch: batch 32 and lr 1e-3 with --full, 2e-4 with LoRA; C trains 3 epochs by default)")
      ->check(positive());
  cmd->add_option("--seed", o->seed, "seed for the split, shuffling, dropout and initialisation")->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "tokens per example at most (longer texts are truncated)")
      ->check(positive())
      ->capture_default_str();
  add_dtype_option(cmd, o->dtype, "auto, fp32 or bf16 (bf16 autocast; auto = bf16 for real-size models)");
  add_device_option(cmd, o->device);
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay")->check(non_negative())->capture_default_str();
  cmd->add_option("--warmup-ratio", o->warmup_ratio, "share of steps with linear warm-up")
      ->check(closed_fraction())
      ->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "learning-rate decay after warm-up: cosine, linear or constant")
      ->check(CLI::IsMember({"cosine", "linear", "constant"}))
      ->capture_default_str();
  cmd->add_option("--grad-accum", o->grad_accum, "batches per optimizer step (gradient accumulation)")
      ->check(positive())
      ->capture_default_str();
  cmd->add_option("--max-grad-norm", o->max_grad_norm, "gradient clipping norm (0 = off)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_flag("--grad-checkpointing", o->grad_checkpointing, "recompute activations in backward (long texts, less memory)");
  cmd->add_option("--eval-every", o->eval_every, "validate every N steps (0 = each epoch)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "checkpoint every N steps (0 = at each validation)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--save-total-limit", o->save_total_limit,
                  "B/C: checkpoints kept while training, newest first (each holds the optimizer state)")
      ->check(positive())
      ->capture_default_str();
  cmd->add_flag("--keep-checkpoints", o->keep_checkpoints,
                "B/C: keep checkpoints/ (the optimizer state, 2x the trained weights) when the run finishes");
  cmd->add_option("--resume", o->resume, "continue an interrupted run from its folder (alone: its options are saved there)");
  cmd->add_flag("--overwrite", *overwrite, "replace an existing run or model in --out instead of refusing");
  cmd->add_option("--patience", o->patience,
                  "stop after N validations (A: epochs) without a better score, keeping the best (0 = never)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--class-weights", o->class_weights,
                  "A and C: auto weights each class by n / (classes x its count), for unbalanced data; none")
      ->check(CLI::IsMember({"none", "auto"}))
      ->capture_default_str();
  cmd->add_option("--max-steps", o->max_steps, "stop after N optimizer steps (0 = run all epochs)")
      ->check(non_negative())
      ->capture_default_str();

  cmd->add_option("--head", o->head, "A: head on the vectors, mlp (Linear-ReLU-Dropout-Linear) or logreg")
      ->check(CLI::IsMember({"mlp", "logreg"}))
      ->capture_default_str();
  cmd->add_option("--instruction", o->instruction, "A: task text; embeds \"Instruct: {task}\\nQuery:{text}\"");
  cmd->add_option("--cache-dir", o->cache_dir, "A: embedding cache folder (default $QSENTI_CACHE or ~/.cache/qsenti)");
  cmd->add_flag("--no-cache", o->no_cache, "A: neither read nor write the embedding cache");

  cmd->add_flag("--full", o->full, "C: train all weights instead of LoRA adapters");
  cmd->add_option("--lora-r", o->lora_r, "B/C: LoRA rank (default by size 16/32/64)")->check(positive());
  cmd->add_option("--lora-alpha", o->lora_alpha, "B/C: LoRA alpha (default by size 32/64/128)")->check(positive());
  cmd->add_option("--lora-dropout", o->lora_dropout, "B/C: dropout on the LoRA input")->check(dropout_rate())->capture_default_str();
  cmd->add_flag("--rslora", o->use_rslora, "B/C: rank-stabilised scaling alpha/sqrt(r)");
  cmd->add_option("--lora-targets", o->lora_targets, "B/C: projections to adapt, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--template", o->prompt_template,
                  "B: prompt: default (the original Chinese instruction), chat (Qwen3 chat format), or a file with {text}")
      ->capture_default_str();
  cmd->add_option("--label-words", o->label_words, "B: answer word per label, comma separated (default 负面,正面)")
      ->delimiter(',');
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(non_negative())->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  auto* dist_group = "Several processes (B and C; torchrun's flags and environment)";
  cmd->add_option("--nproc-per-node", launch->nproc_per_node,
                  "start N workers on this host (data parallel; each gets its share of the cores, or one GPU); "
                  "global batch = workers x --batch-size")
      ->check(positive())
      ->group(dist_group);
  cmd->add_option("--nnodes", launch->nnodes, "hosts in the job (run the same command on each with its --node-rank)")
      ->check(positive())
      ->group(dist_group);
  cmd->add_option("--node-rank", launch->node_rank, "this host's index, 0 to --nnodes - 1")
      ->check(non_negative())
      ->group(dist_group);
  cmd->add_option("--master-addr", launch->master_addr, "address of the host of worker 0 (its rendezvous)")
      ->capture_default_str()
      ->group(dist_group);
  cmd->add_option("--master-port", launch->master_port, "rendezvous port (default: a free one on one host, else 29500)")
      ->check(positive())
      ->group(dist_group);
  cmd->add_option("--dist-timeout", launch->timeout_s,
                  "seconds to wait for the other workers (rendezvous and each exchange) before giving up")
      ->check(positive())
      ->capture_default_str()
      ->group(dist_group);

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
  cmd->callback([o, overwrite, cmd, launch] {
    check_train_command_line(*cmd, *o);
    const bool launcher = cmd->count("--nproc-per-node") > 0 || cmd->count("--nnodes") > 0;
    dist::DistEnv env = dist::DistEnv::from_environment();
    if (cmd->count("--dist-timeout")) env.timeout_s = launch->timeout_s;
    const Method& method = method_named(o->method, "--method");
    if ((launcher || env.distributed()) && !method.one_process_only.empty())
      throw Error(method.one_process_only + "; run it without --nproc-per-node", ExitCode::kUsage);
    if (launcher) {
      if (env.distributed()) throw Error("--nproc-per-node inside a worker (WORLD_SIZE is set): use one launcher", ExitCode::kUsage);
      if (!dist::available()) throw Error("this build has no c10d: it trains in one process only", ExitCode::kUsage);
      // The launcher settles what the workers must agree on (the model and
      // run folders, the size asked for on a terminal) and passes it on.
      const bool had_model = cmd->count("--model") > 0, had_out = cmd->count("--out") > 0,
                 had_size = cmd->count("--model-size") > 0;
      if (o->resume.empty()) {
        complete_train_paths(o->model, o->out, o->model_size, o->method, stdin_is_terminal(), std::cin, std::cout,
                             std::cerr);
        refuse_existing_output(o->out, *overwrite, "run");
      }
      std::vector<std::string> args = dist::strip_launcher_flags(command_line_args());
      if (o->resume.empty()) {
        if (!had_model && !o->model.empty()) args.push_back("--model=" + o->model);
        if (!had_out && !o->out.empty()) args.push_back("--out=" + o->out);
        if (!had_size && !o->model_size.empty()) args.push_back("--model-size=" + o->model_size);
      }
      const int code = dist::launch_workers(*launch, "/proc/self/exe", args, std::cerr);
      if (code != 0) throw Error("training stopped: a worker failed (its message is above)", static_cast<ExitCode>(code));
      return;
    }
    // For the whole command: SIGTERM or Ctrl-C while the model loads is
    // answered at the first step (checkpoint, exit 130), not by dying.
    InterruptScope interrupt_scope;
    torch::Device device = resolve_device(o->device);  // a GPU asked for where there is none fails before anything loads
    if (env.distributed() && device.is_cuda()) {
      o->device = "cuda:" + std::to_string(env.local_rank);  // one GPU per local worker
      device = resolve_device(o->device);
    }
    if (o->threads > 0) init_runtime(o->threads);
    else if (env.local_world_size > 1) init_runtime(worker_threads(env));
    // Without --model-size on a terminal, ask for it as the original did;
    // missing --model/--out become the conventional folders.
    if (o->resume.empty())
      complete_train_paths(o->model, o->out, o->model_size, o->method, stdin_is_terminal() && !env.distributed(),
                           std::cin, std::cout, std::cerr);
    if (o->resume.empty() && env.rank == 0) refuse_existing_output(o->out, *overwrite, "run");
    std::unique_ptr<dist::WorldScope> world;
    if (env.distributed()) {
      if (!o->quiet && env.rank == 0)
        std::cerr << "worker 0 of " << env.world_size << ": waiting for the others at " << env.master_addr << ":"
                  << env.master_port << "\n";
      world = std::make_unique<dist::WorldScope>(dist::init_process_group(env, device));
    }
    const std::string run = method.train(*o);
    if (env.rank == 0) std::cout << "run saved in " << run << "\n";
  });
}

}  // namespace qsenti::cli
