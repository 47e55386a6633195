// qsenti generate: free-form text from a Qwen3 model (optionally with a LoRA
// adapter), e.g. asking why a post is negative.
#include <algorithm>
#include <iostream>

#include "cli/commands.h"
#include "cli/model_source.h"
#include "cli/common.h"
#include "device/device.h"
#include "model/generation.h"
#include "model/loading.h"
#include "model/peft_adapter.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace qsenti::cli {

void add_generate_command(CLI::App& app) {
  struct Opts {
    std::string model, adapter, prompt, dtype = "fp32", device = "auto";
    bool chat = false, thinking = false, show_ids = false;
    int64_t max_new_tokens = 256;
    double temperature = 0.0, top_p = 1.0;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt (greedy or sampled, with a KV cache)");
  cmd->add_option("--model", o->model, "Hugging Face model folder (config.json + safetensors) or repo id (Hub; modelscope:Org/Name for ModelScope)")->required();
  cmd->add_option("--adapter", o->adapter, "peft LoRA adapter folder to apply (e.g. RUN_DIR/adapter of a lora run)");
  cmd->add_option("--prompt", o->prompt, "the prompt text (special tokens such as <|im_start|> are parsed)")->required();
  cmd->add_flag("--chat", o->chat,
                "wrap the prompt as one user turn in Qwen3's chat format (thinking off unless --thinking)");
  cmd->add_flag("--thinking", o->thinking, "with --chat: let the model think first (no empty <think> block)");
  cmd->add_option("--max-new-tokens", o->max_new_tokens, "tokens to generate at most")->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "sampling temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "nucleus sampling: keep the most likely tokens up to this mass")->capture_default_str();
  cmd->add_option("--seed", o->seed, "sampling seed")->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "compute dtype: fp32 or bf16")->capture_default_str();
  add_device_option(cmd, o->device);
  cmd->add_flag("--ids", o->show_ids, "also print the generated token ids (to stderr)");
  cmd->footer("Generation stops at <|im_end|> or <|endoftext|> (not printed) or after --max-new-tokens.");
  cmd->callback([o] {
    o->model = resolve_model_source(o->model, std::cerr);  // a Hub repo id: its cached snapshot
    if (o->max_new_tokens < 1) throw Error("--max-new-tokens must be at least 1", ExitCode::kUsage);
    if (o->temperature < 0) throw Error("--temperature must be >= 0", ExitCode::kUsage);
    if (!(o->top_p > 0 && o->top_p <= 1)) throw Error("--top-p must be in (0, 1]", ExitCode::kUsage);
    const torch::Dtype dtype = parse_dtype(o->dtype);
    auto tok = Tokenizer::for_model(o->model);
    std::string text = o->prompt;
    if (o->chat) {
      text = "<|im_start|>user\n" + o->prompt + "<|im_end|>\n<|im_start|>assistant\n";
      if (!o->thinking) text += "<think>\n\n</think>\n\n";
    }
    std::vector<int32_t> ids = tok->encode(text, SpecialTokens::kParse);
    if (ids.empty()) throw Error("--prompt is empty", ExitCode::kUsage);
    LoadOptions lo;
    lo.dtype = dtype;
    lo.device = resolve_device(o->device);
    Qwen3 model = load_qwen3(o->model, lo);
    if (!o->adapter.empty()) {
      load_peft_adapter(model, o->adapter);
      model->merge_lora_for_inference();
    }
    model->eval();
    GenerationOptions g;
    g.max_new_tokens = o->max_new_tokens;
    g.temperature = o->temperature;
    g.top_p = o->top_p;
    g.seed = o->seed;
    std::vector<int32_t> out = generate(model, {ids}, g)[0];
    if (o->show_ids) {
      for (size_t i = 0; i < out.size(); ++i) std::cerr << (i ? " " : "") << out[i];
      std::cerr << "\n";
    }
    if (!out.empty() && std::find(g.stop_ids.begin(), g.stop_ids.end(), out.back()) != g.stop_ids.end()) out.pop_back();
    std::cout << tok->decode(out) << "\n";
  });
}

}  // namespace qsenti::cli
