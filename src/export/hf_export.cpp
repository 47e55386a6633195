#include "export/hf_export.h"

#include <filesystem>

#include "methods/classifier.h"
#include "methods/hf_run.h"
#include "methods/seqcls_model.h"
#include "model/loading.h"
#include "model/peft_adapter.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                        "special_tokens_map.json", "added_tokens.json"}) {
    const fs::path src = fs::path(from) / f, dst = fs::path(to) / f;
    if (fs::exists(src) && !fs::exists(dst)) fs::copy_file(src, dst);
  }
  copy_bundled_tokenizer(to);
}

std::string export_hf(const HfExportOptions& o) {
  if (o.dtype != "fp32" && o.dtype != "bf16") throw Error("--dtype must be fp32 or bf16", ExitCode::kUsage);
  if (o.out.empty()) throw Error("--out is required", ExitCode::kUsage);
  if (fs::exists(o.out) && !o.overwrite)
    throw Error(o.out + " exists; choose another --out or add --overwrite", ExitCode::kUsage);
  const RunManifest m = open_run_manifest(o.run);
  PredictOptions po;
  po.base_model = o.base;
  const torch::Dtype dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;

  LoadOptions lo;  // fp32: the merge happens in fp32, the rounding once, at save
  Qwen3 model{nullptr};
  std::string tokenizer_from, what;
  nlohmann::json prompt;
  if (m.method == "embedding") {
    throw Error(o.run + ": a method A run is a head on vectors of the unchanged base model " + m.base_model +
                    " (already a transformers folder); there is no transformers model to export",
                ExitCode::kUsage);
  } else if (m.method == "classifier") {
    const SeqClsEncoding enc = SeqClsEncoding::from_manifest(m.extra, 256);
    if (enc.recipe != SeqClsRecipe::kTransformers)
      throw InputError(o.run + ": this run was trained before qsenti 0.2 with <|endoftext|> appended to every text; "
                       "transformers pools one token earlier and would answer differently. Retrain it to export it");
    lo.score_head = true;
    lo.num_labels = static_cast<int64_t>(m.labels.size());
    if (m.extra.value("mode", "lora") == "full") {
      tokenizer_from = run_model_dir(o.run, m);
      model = load_qwen3(tokenizer_from, lo);
    } else {
      tokenizer_from = run_base_model(o.run, m, po);
      model = load_qwen3(tokenizer_from, lo);
      load_peft_adapter(model, run_adapter_dir(o.run, m));
    }
    model->config.id2label = m.labels;
    model->config.pad_token_id = enc.pad_id;
    what = "Qwen3ForSequenceClassification";
  } else if (m.method == "lora") {
    tokenizer_from = run_base_model(o.run, m, po);
    model = load_qwen3(tokenizer_from, lo);
    load_peft_adapter(model, run_adapter_dir(o.run, m));
    model->config.architectures = {"Qwen3ForCausalLM"};
    prompt = {{"template", m.extra.value("template", "default")},
              {"template_prefix", m.extra.value("template_prefix", "")},
              {"template_suffix", m.extra.value("template_suffix", "")},
              {"label_words", m.extra.value("label_words", nlohmann::json::array())},
              {"labels", m.labels},
              {"end_token", m.extra.value("end_token", "<|im_end|>")},
              {"answer_score", m.extra.value("answer_score", "")}};
    what = "Qwen3ForCausalLM";
  } else {
    throw InputError(o.run + ": unknown method \"" + m.method + "\"");
  }
  model->merge_lora();  // fp32 weights: base + B·A·scaling, rounded once when saved

  const std::string tmp = o.out + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_qwen3(model, tmp, dtype);  // LoRA layers merged: only base names are written
  copy_tokenizer_files(tokenizer_from, tmp);
  const fs::path gen = fs::path(tokenizer_from) / "generation_config.json";
  if (m.method == "lora" && fs::exists(gen)) fs::copy_file(gen, fs::path(tmp) / "generation_config.json");
  if (!prompt.is_null()) write_text_atomically((fs::path(tmp) / "qsenti_prompt.json").string(), prompt.dump(2) + "\n");
  nlohmann::json source = {{"qsenti_version", QSENTI_VERSION}, {"run", fs::absolute(o.run).string()},
                           {"method", m.method}, {"labels", m.labels}, {"dtype", o.dtype}};
  write_text_atomically((fs::path(tmp) / "qsenti_export.json").string(), source.dump(2) + "\n");
  replace_directory(tmp, o.out);
  return what + " (" + o.dtype + ", " + std::to_string(m.labels.size()) + " labels) in " + o.out;
}

}  // namespace qsenti
