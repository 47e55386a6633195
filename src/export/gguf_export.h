#pragma once
// `qsenti export --format gguf`: a run (or a plain model folder) as one GGUF
// file in the layout llama.cpp's converter writes for Qwen3 (architecture
// qwen3, gpt2 tokenizer with pre-tokeniser qwen2, no Q/K permutation), so
// llama.cpp, ollama and LM Studio run it:
//  - method C: the backbone plus `score.weight` as `cls.output.weight`,
//    qwen3.pooling_type 4 (RANK: last token, head) and the labels in
//    qwen3.classifier.output_labels (id2label order);
//  - method B: the causal LM with the LoRA merged (fp32, rounded once to the
//    chosen type), the prompt template and label words under `qsenti.`;
//  - method A: the embedding model with pooling_type 3 (LAST); the head, which
//    llama.cpp does not run, goes beside it as OUT-stem.head.safetensors.
// --lora-only writes method B's adapter alone as llama.cpp's LoRA GGUF
// (general.type adapter, adapter.type lora, adapter.lora.alpha with rsLoRA
// folded in, `<base tensor>.lora_a` / `.lora_b`), to apply to the base model's GGUF.
// Tensors are streamed one at a time: without LoRA straight from the
// (memory-mapped) checkpoint, so an 8B export never holds a second copy.
#include <optional>
#include <string>

namespace qsenti {

struct GgufExportOptions {
  std::string run;    // a run folder (or a Hugging Face folder predict opens) ...
  std::string model;  // ... or a plain model folder (config.json + safetensors)
  std::string out;    // FILE.gguf, written as a temporary sibling and renamed
  std::string type = "bf16";  // f32 | f16 | bf16 | q8_0 (1-d tensors and the class head stay f32)
  std::string base;   // --base for adapters whose recorded base is elsewhere
  bool embedding = false;  // --model: an embedding model (pooling LAST); found by itself for sentence-transformers folders
  bool lora_only = false;  // method B: the adapter alone, as llama.cpp's LoRA GGUF (for the base model's GGUF)
  bool overwrite = false;
};

// Writes the file; returns a one-line description of what was written.
std::string export_gguf(const GgufExportOptions& options);

// llama.cpp's name for a Hugging Face Qwen3 tensor name ("model.layers.3.
// self_attn.q_proj.weight" -> "blk.3.attn_q.weight"); nullopt when it has none.
std::optional<std::string> gguf_tensor_name(const std::string& hf_name);

}  // namespace qsenti
