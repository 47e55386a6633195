#pragma once
// A model given as a repo id ("Qwen/Qwen3-0.6B") wherever a model folder is
// accepted: its folder in the download cache, downloaded first when missing
// (unless HF_HUB_OFFLINE, which gets a clear error). The repo is on the
// Hugging Face Hub, or on ModelScope with QSENTI_MODEL_SOURCE=modelscope or a
// "modelscope:" prefix ("modelscope:Qwen/Qwen3-0.6B"; "hf:" names the Hub).
#include <iosfwd>
#include <string>
#include <utility>

namespace qsenti::cli {

enum class ModelSource { kHub, kModelScope };

// "hf" (also "huggingface", "hub") or "modelscope" (also "ms"); else a usage error.
ModelSource parse_model_source(const std::string& name);
// QSENTI_MODEL_SOURCE, else the Hub.
ModelSource default_model_source();
const char* model_source_name(ModelSource s);  // "the Hugging Face Hub", "ModelScope"

// "modelscope:Org/Name" -> (ModelScope, "Org/Name"); no prefix: the default source.
std::pair<ModelSource, std::string> split_model_source(const std::string& model);

// "Org/Name" (optionally "hf:" or "modelscope:" before it) that is not an existing path.
bool looks_like_repo_id(const std::string& model);
// The Hub repo behind a conventional size: Qwen/Qwen3-<size>, and
// Qwen/Qwen3-Embedding-<size> for method A (embedding). ModelScope has the same ids.
std::string hub_repo_for_size(const std::string& method, const std::string& size);

// `model` itself when it is a path; the downloaded folder when it is a repo id
// (notes on `log`).
std::string resolve_model_source(const std::string& model, std::ostream& log);

// The cached folder of `repo` (main on the Hub, any finished download on
// ModelScope) from the default source, without any network; empty if none.
std::string cached_repo_snapshot(const std::string& repo);

}  // namespace qsenti::cli
