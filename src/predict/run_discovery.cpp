#include "predict/run_discovery.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "methods/hf_run.h"
#include "methods/method.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

const std::vector<std::string>& known_model_sizes() {
  static const std::vector<std::string> sizes{"0.6B", "4B", "8B"};
  return sizes;
}

const std::vector<std::string>& known_methods() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Method* m : all_methods()) out.push_back(m->name);
    return out;
  }();
  return names;
}

std::string method_letter(const std::string& method) {
  const Method* m = find_method(method);
  return m ? m->letter + " (" + m->name + ")" : method;
}

std::string conventional_base_model(const std::string& models_dir, const std::string& method,
                                    const std::string& model_size) {
  const std::string name = method == "embedding" ? "Qwen3-Embedding-" + model_size : "Qwen3-" + model_size;
  return (fs::path(models_dir) / name).string();
}

std::string conventional_run_dir(const std::string& models_dir, const std::string& method,
                                 const std::string& model_size) {
  return (fs::path(models_dir) / (method + "-" + model_size)).string();
}

std::string RunInfo::name() const {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

std::string RunInfo::describe() const {
  std::string s = method_letter(manifest.method);
  s += manifest.model_size.empty() ? ", custom size" : ", " + manifest.model_size;
  s += ", " + std::to_string(manifest.labels.size()) + " labels";
  const auto& valid = manifest.metrics.is_object() && manifest.metrics.contains("valid")
                          ? manifest.metrics["valid"]
                          : nlohmann::json();
  if (valid.is_object() && valid.contains("accuracy") && valid["accuracy"].is_number()) {
    char buf[48];
    std::snprintf(buf, sizeof buf, ", valid accuracy %.3f", valid["accuracy"].get<double>());
    s += buf;
  }
  return s;
}

namespace {

int rank_in(const std::vector<std::string>& list, const std::string& x) {
  auto it = std::find(list.begin(), list.end(), x);
  return static_cast<int>(it - list.begin());  // unknown values sort last
}

void try_add(const fs::path& dir, RunSearch& search) {
  if (!is_run_folder(dir.string())) return;
  try {
    search.runs.push_back({dir.string(), open_run_manifest(dir.string())});
  } catch (const Error& e) {
    search.problems.push_back(e.what());
  }
}

}  // namespace

RunSearch find_runs(const std::string& models_dir) {
  RunSearch search;
  std::error_code ec;
  if (!fs::is_directory(models_dir, ec)) return search;
  try_add(models_dir, search);
  std::vector<fs::path> children;
  for (const auto& entry : fs::directory_iterator(models_dir, ec))
    if (entry.is_directory(ec)) children.push_back(entry.path());
  std::sort(children.begin(), children.end());
  for (const auto& child : children) try_add(child, search);
  std::stable_sort(search.runs.begin(), search.runs.end(), [](const RunInfo& a, const RunInfo& b) {
    auto key = [](const RunInfo& r) {
      return std::make_tuple(rank_in(known_methods(), r.manifest.method),
                             rank_in(known_model_sizes(), r.manifest.model_size), r.name());
    };
    return key(a) < key(b);
  });
  return search;
}

std::optional<std::string> resolve_single_run(const RunSelection& sel) {
  if (!sel.run_dirs.empty()) {
    if (sel.run_dirs.size() > 1)
      throw Error("give one --run here (several runs are combined with --load-all or in the interactive compare)",
                  ExitCode::kUsage);
    if (!is_run_folder(sel.run_dirs[0]))
      throw InputError(sel.run_dirs[0] + ": not a run: no " + RunManifest::kFileName + ", and not a transformers classifier or peft adapter folder (train one with `qsenti train --out " +
                       sel.run_dirs[0] + "`)");
    return sel.run_dirs[0];
  }
  if (sel.method.empty() && sel.model_size.empty()) return std::nullopt;
  if (!sel.method.empty() && !sel.model_size.empty()) {
    const std::string dir = conventional_run_dir(sel.models_dir, sel.method, sel.model_size);
    if (is_run_folder(dir)) return dir;
  }
  // Fall back on what is there: the runs matching what was given.
  RunSearch search = find_runs(sel.models_dir);
  std::vector<const RunInfo*> matches;
  for (const auto& r : search.runs)
    if ((sel.method.empty() || r.manifest.method == sel.method) &&
        (sel.model_size.empty() || r.manifest.model_size == sel.model_size))
      matches.push_back(&r);
  std::string wanted = sel.method.empty() ? "" : "method " + sel.method;
  if (!sel.model_size.empty()) wanted += (wanted.empty() ? "size " : ", size ") + sel.model_size;
  if (matches.size() == 1) return matches[0]->dir;
  if (matches.empty()) {
    std::string msg = "no trained run for " + wanted + " in " + sel.models_dir + "/";
    if (!sel.method.empty() && !sel.model_size.empty())
      msg += " (looked for " + conventional_run_dir(sel.models_dir, sel.method, sel.model_size) + "/" +
             RunManifest::kFileName + ")";
    msg += "; train one with `qsenti train --method " + (sel.method.empty() ? std::string("...") : sel.method) +
           (sel.model_size.empty() ? std::string() : " --model-size " + sel.model_size) +
           " --train data.tsv`, or name a run folder with --run";
    throw InputError(msg);
  }
  std::string msg = "several runs match " + wanted + ":";
  for (const auto* r : matches) msg += " " + r->dir;
  msg += "; choose one with --run or add --model-size/--method";
  throw Error(msg, ExitCode::kUsage);
}

}  // namespace qsenti
