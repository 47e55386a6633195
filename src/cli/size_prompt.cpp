#include "cli/size_prompt.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/model_source.h"
#include "io/labels.h"
#include "model/config.h"
#include "predict/run_discovery.h"
#include "train/train_options.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti::cli {

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }
bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::optional<std::string> ask_model_size(std::istream& in, std::ostream& out, const std::string& method,
                                          const std::string& models_dir) {
  const auto& sizes = known_model_sizes();
  out << "Model size for method " << method_letter(method) << ":\n";
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string dir = conventional_base_model(models_dir, method, sizes[i]);
    out << "  " << (i + 1) << ") " << sizes[i] << "  " << dir << (fs::exists(dir) ? "  (found)" : "  (not found)")
        << "\n";
  }
  std::string line;
  while (true) {
    out << "Choose [1-" << sizes.size() << "] (q to quit): " << std::flush;
    if (!std::getline(in, line)) return std::nullopt;
    const std::string answer(trim_ascii(line));
    if (answer == "q" || answer == "quit") return std::nullopt;
    for (size_t i = 0; i < sizes.size(); ++i)
      if (answer == std::to_string(i + 1) || answer == sizes[i] || answer + "B" == sizes[i]) return sizes[i];
    out << "\"" << answer << "\" is not a size; answer 1, 2 or 3.\n";
  }
}

void complete_train_paths(std::string& model, std::string& out, std::string& model_size, const std::string& method,
                          bool interactive, std::istream& in, std::ostream& prompt_out, std::ostream& log) {
  const std::string models_dir = kDefaultModelsDir;
  // --model Org/Name: the Hub repo's snapshot (downloaded when missing).
  const std::string repo = looks_like_repo_id(model) ? model : "";
  if (!repo.empty()) model = resolve_model_source(model, log);
  if (model.empty() && model_size.empty()) {
    if (interactive) {
      auto size = ask_model_size(in, prompt_out, method, models_dir);
      if (!size) throw Error("no model size chosen", ExitCode::kUsage);
      model_size = *size;
    } else {
      model_size = "0.6B";
      log << "no --model or --model-size: using size 0.6B\n";
    }
  }
  if (model.empty()) {
    model = conventional_base_model(models_dir, method, model_size);
    // No folder there: the size's Hub repo if it is in the Hub cache. Only
    // the cache: an implicit download of gigabytes is left to --model Org/Name.
    const std::string size_repo = hub_repo_for_size(method, model_size);
    const std::string cached = fs::exists(model) ? "" : cached_repo_snapshot(size_repo);
    if (!cached.empty()) {
      log << "base model: " << size_repo << " from the cache of " << model_source_name(default_model_source()) << " ("
          << cached << ")\n";
      model = cached;
    } else if (!fs::exists(model)) {
      throw InputError("base model folder " + model + " not found: put the Hugging Face folder of " +
                       fs::path(model).filename().string() + " there, run `qsenti download " + size_repo +
                       "` (or give --model " + size_repo + "), or give --model PATH (for a quick try: `qsenti init --preset tiny --out " +
                       model + "`)");
    } else {
      log << "base model: " << model << "\n";
    }
  }
  if (out.empty()) {
    std::string tag = model_size;
    if (tag.empty()) {
      try {
        tag = infer_model_size(Qwen3Config::load(model).hidden_size);
      } catch (const Error&) {
      }
    }
    if (tag.empty() && !repo.empty()) tag = repo.substr(repo.find('/') + 1);  // not the snapshot's commit
    if (tag.empty()) {
      fs::path p = fs::path(model).lexically_normal();
      if (p.filename().empty()) p = p.parent_path();
      tag = p.filename().string();
    }
    out = conventional_run_dir(models_dir, method, tag);
    log << "run folder: " << out << "\n";
  }
}

}  // namespace qsenti::cli
