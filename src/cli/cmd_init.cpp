// qsenti init: a randomly initialised Qwen3 in the real shapes and HF layout.
#include <chrono>
#include <iostream>

#include "text/qwen3_tokens.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/loading.h"
#include "util/error.h"

namespace qsenti::cli {

void add_init_command(CLI::App& app) {
  struct Opts {
    std::string preset = "tiny", out, dtype = "bf16";
    uint64_t seed = 0;
    int64_t num_labels = 0;
    bool overwrite = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("init", "Write a randomly initialised Qwen3 model in Hugging Face layout");
  cmd->add_option("--preset", o->preset, "shape: tiny (hidden 128, 4 layers), 0.6B, 4B or 8B")
      ->check(CLI::IsMember({"tiny", "0.6B", "4B", "8B"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_option("--seed", o->seed, "random seed")->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "weight dtype on disk: bf16 or fp32")->capture_default_str();
  cmd->add_option("--num-labels", o->num_labels,
                  "write a Qwen3ForSequenceClassification with this many labels (0 = causal LM)")
      ->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "replace a model already in --out instead of refusing");
  cmd->footer(
      "The folder holds config.json, model.safetensors (sharded with an index above 4 GiB, as the\n"
      "4B and 8B releases), generation_config.json and the bundled tokenizer: transformers loads it\n"
      "as it loads a downloaded Qwen3. Random weights are for tests and benchmarks: real accuracy\n"
      "needs real Qwen3 weights.");
  cmd->callback([o] {
    Qwen3Config c = Qwen3Config::preset(o->preset);
    if (o->num_labels > 0) {
      if (o->num_labels < 2) throw Error("--num-labels must be at least 2", ExitCode::kUsage);
      c.architectures = {"Qwen3ForSequenceClassification"};
      c.num_labels = o->num_labels;
      c.pad_token_id = kQwen3EndOfTextId;
    }
    const torch::Dtype dtype = parse_dtype(o->dtype);
    refuse_existing_output(o->out, o->overwrite, "model");
    auto t0 = std::chrono::steady_clock::now();
    write_random_model(c, o->out, o->seed, dtype);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "wrote " << o->preset << " Qwen3 (" << human_count(c.parameter_count(o->num_labels > 0))
              << " parameters, " << dtype_name(dtype) << ", seed " << o->seed << ") to " << o->out << " in "
              << static_cast<int>(s * 10) / 10.0 << " s\n";
  });
}

}  // namespace qsenti::cli
