#include "methods/run_manifest.h"

#include <ctime>
#include <filesystem>
#include <fstream>

#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti {

std::string utc_now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool RunManifest::exists(const std::string& run_dir) { return fs::exists(fs::path(run_dir) / kFileName); }

nlohmann::json RunManifest::to_json() const {
  return {{"method", method},
          {"base_model", base_model},
          {"base_model_fingerprint", base_model_fingerprint},
          {"model_size", model_size},
          {"labels", labels},
          {"hyperparameters", hyperparameters},
          {"metrics", metrics},
          {"extra", extra},
          {"qsenti_version", qsenti_version},
          {"created", created}};
}

RunManifest RunManifest::load(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / kFileName).string();
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open (is " + run_dir + " a qsenti run folder?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  RunManifest m;
  try {
    m.method = j.at("method").get<std::string>();
    m.base_model = j.value("base_model", "");
    m.base_model_fingerprint = j.value("base_model_fingerprint", "");
    m.model_size = j.value("model_size", "");
    m.labels = j.at("labels").get<std::vector<std::string>>();
    m.hyperparameters = j.value("hyperparameters", nlohmann::json::object());
    m.metrics = j.value("metrics", nlohmann::json::object());
    m.extra = j.value("extra", nlohmann::json::object());
    m.qsenti_version = j.value("qsenti_version", "");
    m.created = j.value("created", "");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": " + e.what());
  }
  if (m.method != "embedding" && m.method != "lora" && m.method != "classifier")
    throw InputError(path + ": unknown method \"" + m.method + "\"");
  if (m.labels.size() < 2) throw InputError(path + ": needs at least two labels");
  return m;
}

void RunManifest::save(const std::string& run_dir) const {
  fs::create_directories(run_dir);
  write_text_atomically((fs::path(run_dir) / kFileName).string(), to_json().dump(2) + "\n");
}

}  // namespace qsenti
