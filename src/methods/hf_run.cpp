#include "text/qwen3_tokens.h"
#include "methods/hf_run.h"

#include <filesystem>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/peft_adapter.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

bool is_seqcls_folder(const fs::path& dir) {
  if (!fs::exists(dir / "config.json")) return false;
  try {
    return Qwen3Config::load(dir.string()).is_sequence_classifier();
  } catch (const Error&) {
    return false;  // not a Qwen3 folder we read: not a run either
  }
}

// transformers' default names when a config gives none.
std::vector<std::string> default_label_names(int64_t n) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) names.push_back("LABEL_" + std::to_string(i));
  return names;
}

std::string resolve_base(const std::string& given, const fs::path& adapter_dir) {
  if (given.empty()) return given;
  for (const fs::path& p : {fs::path(given), adapter_dir / given})
    if (fs::is_directory(p)) return fs::absolute(p).lexically_normal().string();
  return given;  // a hub id or a path elsewhere: the loader asks for --base
}

}  // namespace

bool is_hf_run_folder(const std::string& dir) {
  const fs::path d(dir);
  if (RunManifest::exists(dir)) return false;
  return fs::exists(d / "adapter_config.json") || is_seqcls_folder(d);
}

RunManifest manifest_for_hf_folder(const std::string& dir_in) {
  const fs::path dir = fs::absolute(dir_in).lexically_normal();
  RunManifest m;
  if (fs::exists(dir / "adapter_config.json")) {
    AdapterConfig ac = AdapterConfig::load(dir.string());
    m.base_model = resolve_base(ac.base_model_name_or_path, dir);
    m.extra = {{"source", "peft"}, {"adapter_dir", dir.string()}, {"dtype", "fp32"}};
    if (ac.task_type == "SEQ_CLS") {
      m.method = "classifier";
      m.extra["mode"] = "lora";
      const std::string file = (dir / "adapter_model.safetensors").string();
      if (!fs::exists(file)) throw InputError(dir.string() + ": no adapter_model.safetensors");
      SafetensorsFile st(file);
      const std::string key = "base_model.model.score.weight";
      if (!st.contains(key))
        throw InputError(file + ": a SEQ_CLS adapter needs its score head (\"" + key +
                         "\", saved when modules_to_save lists \"score\")");
      const int64_t n = st.entry(key).shape.at(0);
      m.labels = default_label_names(n);
      // The base's own names, when it is a classifier with as many labels.
      if (fs::is_directory(m.base_model) && fs::exists(fs::path(m.base_model) / "config.json")) {
        Qwen3Config bc = Qwen3Config::load(m.base_model);
        if (static_cast<int64_t>(bc.id2label.size()) == n) m.labels = bc.id2label;
        m.extra["pad_token_id"] = bc.pad_token_id.value_or(kQwen3EndOfTextId);
      }
      m.extra["recipe"] = "transformers";
      m.extra["max_length"] = 512;
    } else if (ac.task_type == "CAUSAL_LM") {
      m.method = "lora";
      m.labels = {"negative", "positive"};  // --label-words gives others
      m.extra["label_words_default"] = true;
      m.extra["max_length"] = 512;
    } else {
      throw InputError((dir / "adapter_config.json").string() + ": task_type \"" + ac.task_type +
                       "\" is not one qsenti predicts with (SEQ_CLS or CAUSAL_LM)");
    }
    return m;
  }
  if (!is_seqcls_folder(dir))
    throw InputError(dir.string() + ": neither a qsenti run (manifest.json), a transformers " +
                     "Qwen3ForSequenceClassification folder, nor a peft adapter folder");
  Qwen3Config c = Qwen3Config::load(dir.string());
  m.method = "classifier";
  m.base_model = dir.string();
  m.labels = c.id2label.empty() ? default_label_names(c.num_labels) : c.id2label;
  m.extra = {{"source", "transformers"},
             {"mode", "full"},
             {"model_dir", dir.string()},
             {"recipe", "transformers"},
             {"pad_token_id", c.pad_token_id.value_or(kQwen3EndOfTextId)},
             {"max_length", 512},
             {"dtype", "fp32"}};
  return m;
}

bool is_run_folder(const std::string& dir) { return RunManifest::exists(dir) || is_hf_run_folder(dir); }

RunManifest open_run_manifest(const std::string& dir) {
  return RunManifest::exists(dir) || !is_hf_run_folder(dir) ? RunManifest::load(dir) : manifest_for_hf_folder(dir);
}

}  // namespace qsenti
