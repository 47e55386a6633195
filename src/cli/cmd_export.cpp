// qsenti export: a run in another ecosystem's format. Today `--format hf`
// (a transformers folder); the exporters live in src/export/.
#include <iostream>

#include "cli/commands.h"
#include "export/hf_export.h"
#include "util/error.h"

namespace qsenti::cli {

void add_export_command(CLI::App& app) {
  struct Opts {
    HfExportOptions hf;
    std::string format = "hf";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("export", "Write a trained run as a Hugging Face transformers folder");
  cmd->add_option("--run", o->hf.run, "run folder (or a transformers / peft folder that predict opens)")->required();
  cmd->add_option("--format", o->format, "hf: a transformers folder (LoRA merged in fp32)")
      ->check(CLI::IsMember({"hf"}))
      ->capture_default_str();
  cmd->add_option("--out", o->hf.out, "the folder to write")->required();
  cmd->add_option("--dtype", o->hf.dtype, "weights in the folder: fp32 or bf16")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--base", o->hf.base, "base model folder of an adapter whose recorded base is elsewhere");
  cmd->add_flag("--overwrite", o->hf.overwrite, "replace an existing --out folder");
  cmd->footer(
      "Method C gives Qwen3ForSequenceClassification (labels in id2label), method B Qwen3ForCausalLM\n"
      "with qsenti_prompt.json (template and label words) beside it. Both load with\n"
      "AutoModelFor...from_pretrained(OUT) and answer as `qsenti predict --run RUN` does.");
  cmd->callback([o] { std::cout << "wrote " << export_hf(o->hf) << "\n"; });
}

}  // namespace qsenti::cli
