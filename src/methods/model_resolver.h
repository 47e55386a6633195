#pragma once
// How a base model that is no folder (a peft adapter's recorded
// base_model_name_or_path, "Qwen/Qwen3-0.6B") becomes one. Where models come
// from is the CLI's policy (the Hub or ModelScope cache, downloading when
// missing), installed once at start-up; the methods only ask.
#include <functional>
#include <string>

namespace qsenti {

using ModelResolver = std::function<std::string(const std::string& model)>;

// Installs the process's resolver (empty: none; such a base needs --base).
void set_model_resolver(ModelResolver resolver);
// `model` itself when it is a folder or no resolver is installed; else what
// the resolver makes of it (it may throw a clear error).
std::string resolve_model(const std::string& model);

}  // namespace qsenti
