#pragma once
// A model given as a Hugging Face Hub repo id ("Qwen/Qwen3-0.6B") wherever a
// model folder is accepted: the snapshot in the shared Hub cache, downloaded
// first when missing (unless HF_HUB_OFFLINE, which gets a clear error).
#include <iosfwd>
#include <string>

namespace qsenti::cli {

// "Org/Name" that is not an existing path.
bool looks_like_repo_id(const std::string& model);
// The Hub repo behind a conventional size: Qwen/Qwen3-<size>, and
// Qwen/Qwen3-Embedding-<size> for method A (embedding).
std::string hub_repo_for_size(const std::string& method, const std::string& size);

// `model` itself when it is a path; the snapshot folder when it is a repo id
// (notes on `log`).
std::string resolve_model_source(const std::string& model, std::ostream& log);

// The cached snapshot of `repo` (main), without any network; empty if none.
std::string cached_repo_snapshot(const std::string& repo);

}  // namespace qsenti::cli
