#pragma once
// `qsenti export --format hf`: a run as a complete transformers folder that
// from_pretrained loads with no missing or unexpected keys. LoRA is merged
// in fp32 and rounded once to the chosen dtype.
//  - method C: Qwen3ForSequenceClassification (id2label, pad_token_id);
//  - method B: Qwen3ForCausalLM, with qsenti_prompt.json beside it (template,
//    label words, end token: what qsenti's label scoring needs);
//  - method A: refused (its model is the unchanged base folder; the head
//    reads cached vectors and has no transformers class).
#include <string>
#include <vector>

namespace qsenti {

struct HfExportOptions {
  std::string run;    // run folder (or a Hugging Face folder predict opens)
  std::string out;    // the folder to write; written as OUT.tmp, then renamed
  std::string dtype = "fp32";  // fp32 | bf16
  std::string base;   // --base for adapters whose base is elsewhere
  bool overwrite = false;
};

// Writes the folder; returns a one-line description of what was written.
std::string export_hf(const HfExportOptions& options);

// Copies the tokenizer files a transformers folder carries (tokenizer.json,
// tokenizer_config.json, vocab.json, merges.txt, ...) from `from`, then the
// bundled ones for whatever is still missing.
void copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace qsenti
