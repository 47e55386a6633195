#pragma once
// Where models and runs live by convention, so that the original's short
// commands keep working (`--method embedding --model-size 0.6B`):
//   base models  <models>/Qwen3-<size>            (methods B and C)
//                <models>/Qwen3-Embedding-<size>  (method A)
//   runs         <models>/<method>-<size>/        (manifest.json inside)
// <models> is `models/` unless --models-dir says otherwise.
#include <optional>
#include <string>
#include <vector>

#include "methods/run_manifest.h"

namespace qsenti {

inline constexpr const char* kDefaultModelsDir = "models";

// The sizes and methods in the order menus list them.
const std::vector<std::string>& known_model_sizes();  // 0.6B, 4B, 8B
const std::vector<std::string>& known_methods();      // embedding, lora, classifier
// "A (embedding)" etc. for menus and tables.
std::string method_letter(const std::string& method);

std::string conventional_base_model(const std::string& models_dir, const std::string& method,
                                    const std::string& model_size);
std::string conventional_run_dir(const std::string& models_dir, const std::string& method,
                                 const std::string& model_size);

// A run folder found on disk, with its manifest.
struct RunInfo {
  std::string dir;
  RunManifest manifest;
  // "embedding-0.6B" style name: the folder name.
  std::string name() const;
  // "embedding 0.6B, 2 labels, valid accuracy 0.853" for menus.
  std::string describe() const;
};

struct RunSearch {
  std::vector<RunInfo> runs;            // sorted: method order, then size, then folder name
  std::vector<std::string> problems;    // "<dir>: <why it was skipped>" for unreadable manifests
};

// Runs directly inside `models_dir` (each sub-folder holding manifest.json),
// and `models_dir` itself if it is a run. A missing folder yields no runs.
RunSearch find_runs(const std::string& models_dir);

// What the user asked for on the command line, resolved to run folders.
struct RunSelection {
  std::vector<std::string> run_dirs;  // explicit --run folders
  std::string method;                 // --method
  std::string model_size;             // --model-size
  std::string models_dir = kDefaultModelsDir;
};

// One run folder from --run, or --method [+ --model-size]: the conventional
// folder if it holds a run, else the only run of that method (and size) found
// under models_dir. Returns nullopt when nothing was specified. Throws
// Error(kUsage) when the choice is ambiguous and InputError when the run is
// missing, naming the folders it looked at.
std::optional<std::string> resolve_single_run(const RunSelection& selection);

}  // namespace qsenti
