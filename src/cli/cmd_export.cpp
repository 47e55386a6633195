// qsenti export: a run in another ecosystem's format: `--format hf` (a
// transformers folder) or `--format gguf` (one file for llama.cpp, ollama,
// LM Studio). The exporters live in src/export/.
#include <iostream>

#include "cli/commands.h"
#include "cli/model_source.h"
#include "export/gguf_export.h"
#include "export/hf_export.h"
#include "util/error.h"

namespace qsenti::cli {

void add_export_command(CLI::App& app) {
  struct Opts {
    HfExportOptions hf;
    GgufExportOptions gguf;
    std::string format = "hf";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("export", "Write a trained run as a transformers folder or a GGUF file");
  auto* run = cmd->add_option("--run", o->hf.run, "run folder (or a transformers / peft folder that predict opens)");
  auto* model = cmd->add_option("--model", o->gguf.model, "gguf: a plain Hugging Face model folder (or repo id) instead of a run");
  cmd->add_option("--format", o->format, "hf: a transformers folder; gguf: one llama.cpp file (LoRA merged in fp32)")
      ->check(CLI::IsMember({"hf", "gguf"}))
      ->capture_default_str();
  cmd->add_option("--out", o->hf.out, "hf: the folder to write; gguf: the .gguf file")->required();
  auto* dtype = cmd->add_option("--dtype", o->hf.dtype, "hf: weights in the folder: fp32 or bf16")
                    ->check(CLI::IsMember({"fp32", "bf16"}))
                    ->capture_default_str();
  auto* type = cmd->add_option("--type", o->gguf.type, "gguf: f32, f16, bf16 or q8_0 (1-d tensors and the class head stay f32)")
                   ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}))
                   ->capture_default_str();
  auto* embedding = cmd->add_flag("--embedding", o->gguf.embedding,
                                  "gguf --model: the folder is an embedding model (pooling LAST; found by itself "
                                  "for sentence-transformers folders)");
  auto* lora_only = cmd->add_flag("--lora-only", o->gguf.lora_only,
                                  "gguf, method B: the adapter alone as llama.cpp's LoRA GGUF (for the base model's GGUF)");
  cmd->add_option("--base", o->hf.base, "base model folder (or repo id) of an adapter whose recorded base is elsewhere");
  cmd->add_flag("--overwrite", o->hf.overwrite, "replace an existing --out");
  cmd->footer(
      "hf: method C gives Qwen3ForSequenceClassification (labels in id2label), method B Qwen3ForCausalLM\n"
      "with qsenti_prompt.json (template and label words) beside it. Both load with\n"
      "AutoModelFor...from_pretrained(OUT) and answer as `qsenti predict --run RUN` does.\n"
      "gguf: llama.cpp's Qwen3 layout. Method C: cls.output head, pooling RANK, the labels in\n"
      "qwen3.classifier.output_labels; method B: the merged causal LM, prompt and label words under\n"
      "qsenti.* (--lora-only: the adapter alone, llama.cpp's LoRA GGUF); method A: the embedding model\n"
      "(pooling LAST), its head beside it as OUT-stem.head.safetensors.");
  cmd->callback([o, run, model, dtype, type, embedding, lora_only] {
    // Repo ids: their downloaded folders (a download only once the options are known to fit).
    auto resolve = [](std::string& m) {
      if (!m.empty()) m = resolve_model_source(m, std::cerr);
    };
    if (o->format == "hf") {
      if (model->count() || type->count() || embedding->count() || lora_only->count())
        throw Error("--model, --type, --embedding and --lora-only belong to --format gguf (hf takes --run and --dtype)", ExitCode::kUsage);
      if (!run->count()) throw Error("--run is required", ExitCode::kUsage);
      resolve(o->hf.base);
      const std::string what = export_hf(o->hf);  // first: a failure must not leave "wrote " on stdout
      std::cout << "wrote " << what << "\n";
      return;
    }
    if (dtype->count()) throw Error("--dtype belongs to --format hf; gguf takes --type f32|f16|bf16|q8_0", ExitCode::kUsage);
    if (run->count() == model->count()) throw Error("give one of --run RUN or --model DIR", ExitCode::kUsage);
    if (embedding->count() && !model->count()) throw Error("--embedding goes with --model", ExitCode::kUsage);
    resolve(o->hf.base);
    resolve(o->gguf.model);
    GgufExportOptions g = o->gguf;
    g.run = o->hf.run;
    g.out = o->hf.out;
    g.base = o->hf.base;
    g.overwrite = o->hf.overwrite;
    const std::string what = export_gguf(g);
    std::cout << "wrote " << what << "\n";
  });
}

}  // namespace qsenti::cli
