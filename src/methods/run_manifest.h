#pragma once
// A run folder (`--out RUN_DIR`) is what training leaves behind and what
// predict/eval load: `manifest.json` says which method made it, from which
// base model, with which labels, hyperparameters and metrics; the method's
// own files (head, adapter, weights) sit beside it.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qsenti {

struct RunManifest {
  static constexpr const char* kFileName = "manifest.json";

  std::string method;                 // "embedding" | "lora" | "classifier"
  std::string base_model;             // absolute path of the HF folder it started from
  std::string base_model_fingerprint; // model_fingerprint() of it
  std::string model_size;             // "0.6B" | "4B" | "8B" | "" (unknown/custom)
  std::vector<std::string> labels;    // label names, index = class id
  nlohmann::json hyperparameters = nlohmann::json::object();
  nlohmann::json metrics = nlohmann::json::object();  // {"valid": {...}, "test": {...}}
  nlohmann::json extra = nlohmann::json::object();    // method-specific (template, label words, ...)
  std::string qsenti_version = QSENTI_VERSION;
  std::string created;  // ISO 8601 UTC

  static bool exists(const std::string& run_dir);
  static RunManifest load(const std::string& run_dir);  // InputError naming the file on problems
  void save(const std::string& run_dir) const;          // atomic
  nlohmann::json to_json() const;
};

std::string utc_now_iso8601();

}  // namespace qsenti
