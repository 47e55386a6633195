#include "cli/common.h"

#include <filesystem>

#include <cstdio>
#include <sstream>

#include <CLI/CLI.hpp>

#include "device/device.h"
#include "methods/classifier.h"
#include "util/error.h"

namespace qsenti::cli {

namespace {
std::vector<std::string> g_command_line;
}

void set_command_line(int argc, char** argv) { g_command_line.assign(argv + (argc > 0 ? 1 : 0), argv + argc); }
const std::vector<std::string>& command_line_args() { return g_command_line; }


void add_hf_run_options(CLI::App* cmd, PredictOptions& o) {
  cmd->add_option("--base", o.base_model,
                  "base model folder (or repo id) of a peft adapter given as --run (when its base_model_name_or_path "
                  "is no local folder)");
  cmd->add_option("--label-words", o.label_words,
                  "label words of a peft CAUSAL_LM adapter given as --run, comma separated, one per label "
                  "(default 负面,正面)")
      ->delimiter(',');
}

void add_column_options(CLI::App* cmd, std::string& text_column, std::string& label_column) {
  cmd->add_option("--text-column", text_column,
                  "column holding the text: a header name, a 0-based index, or the key in JSON lines "
                  "(default text or review; in a TSV without header 0)");
  cmd->add_option("--label-column", label_column,
                  "column holding the label: a header name, a 0-based index, or the key in JSON lines "
                  "(default label; in a TSV without header 1)");
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device, "where the model runs: auto (a GPU when there is one), cpu, cuda, cuda:N")
      ->check([](const std::string& v) {
        try {
          check_device_spec(v);
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string();
      })
      ->capture_default_str();
}

namespace {

// A check that parses the whole value as a number, then asks `ok` of it;
// `why` completes the message of a number out of range.
std::function<std::string(const std::string&)> number_check(std::function<bool(double)> ok, std::string why) {
  return [ok = std::move(ok), why = std::move(why)](const std::string& v) -> std::string {
    double x = 0;
    try {
      size_t used = 0;
      x = std::stod(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
    } catch (const std::exception&) {
      return "'" + v + "' is not a number";
    }
    return ok(x) ? "" : "'" + v + "' " + why;
  };
}

}  // namespace

std::function<std::string(const std::string&)> positive() {
  return number_check([](double x) { return x > 0; }, "must be above 0");
}
std::function<std::string(const std::string&)> non_negative() {
  return number_check([](double x) { return x >= 0; }, "must be 0 or more");
}
std::function<std::string(const std::string&)> open_fraction() {
  return number_check([](double x) { return x > 0 && x < 1; }, "is out of range: a share strictly between 0 and 1");
}
std::function<std::string(const std::string&)> dropout_rate() {
  return number_check([](double x) { return x >= 0 && x < 1; },
                      "is out of range: a rate from 0 up to (not including) 1");
}
std::function<std::string(const std::string&)> closed_fraction() {
  return number_check([](double x) { return x >= 0 && x <= 1; }, "is out of range: a share from 0 to 1");
}

void refuse_existing_output(const std::string& out, bool overwrite, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (out.empty() || !fs::exists(out, ec)) return;
  if (!fs::is_directory(out, ec)) throw Error("--out " + out + " is a file, not a folder", ExitCode::kUsage);
  if (fs::is_empty(out, ec)) return;
  auto has = [&](const char* f) { return fs::exists(fs::path(out) / f, ec); };
  // A run that finished (manifest) or can be resumed (a checkpoint), a model.
  const bool valuable = has("manifest.json") || has("checkpoints/latest") || has("config.json");
  // What a start that failed before its first checkpoint leaves: replaced silently.
  const bool failed_start = !valuable && (has("train_options.json") || has("checkpoints") || has("best"));
  if (failed_start) {
    fs::remove_all(out, ec);
    return;
  }
  if (!valuable)
    throw Error("--out " + out + " is a folder that holds other files; choose a new or empty folder",
                ExitCode::kUsage);
  if (!overwrite) {
    std::string hint = what == "run" ? ", or --resume " + out + " to continue an interrupted run" : "";
    throw Error("--out " + out + " already holds a " + what + "; pass --overwrite to replace it" + hint,
                ExitCode::kUsage);
  }
  fs::remove_all(out, ec);
  if (ec) throw Error("cannot remove " + out + " to overwrite it: " + ec.message());
}

void add_dtype_option(CLI::App* cmd, std::string& dtype, const std::string& help) {
  cmd->add_option("--dtype", dtype, help)
      ->check([](const std::string& v) -> std::string {
        // fp16 would need loss scaling, and the attention mask's -1e30 is
        // -inf in fp16 (whose range ends at 65504): bf16 has fp32's range.
        if (v == "fp16" || v == "float16")
          return "fp16 is not supported (its range overflows in the attention mask and training would need "
                 "loss scaling); use bf16, which GPUs since Ampere and recent CPUs run as fast";
        if (v != "auto" && v != "fp32" && v != "bf16") return "'" + v + "' is not one of auto, fp32, bf16";
        return "";
      })
      ->capture_default_str();
}

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return torch::kFloat32;
  if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
  if (name == "fp16" || name == "float16") return torch::kFloat16;
  throw Error("unknown dtype \"" + name + "\" (use fp32 or bf16)", ExitCode::kUsage);
}

std::string dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "fp32";
    case torch::kBFloat16: return "bf16";
    case torch::kFloat16: return "fp16";
    default: return c10::toString(dtype);
  }
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    try {
      out.push_back(std::stoll(item, &pos));
    } catch (...) {
      pos = std::string::npos;
    }
    if (pos != item.size() || item.empty())
      throw Error(option + ": \"" + item + "\" is not an integer (expected e.g. 1,2,3)", ExitCode::kUsage);
  }
  return out;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

}  // namespace qsenti::cli
