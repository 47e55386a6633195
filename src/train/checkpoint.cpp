#include "train/checkpoint.h"


#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "device/device.h"
#include "io/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/torch_compat.h"

namespace fs = std::filesystem;

namespace qsenti {
namespace {

// LibTorch's optimizers key their per-parameter state by the TensorImpl address.
compat::OptimizerStateKey state_key(const torch::Tensor& p) { return compat::optimizer_state_key(p); }

const std::string* name_of(const std::vector<NamedTensor>& params, const torch::Tensor& p) {
  for (const auto& n : params)
    if (n.tensor.unsafeGetTensorImpl() == p.unsafeGetTensorImpl()) return &n.name;
  return nullptr;
}

}  // namespace

void save_named_tensors(const std::string& path, const std::vector<NamedTensor>& params) {
  SafetensorsWriter w;
  for (const auto& p : params) w.add(p.name, p.tensor.detach().contiguous());
  w.set_metadata("format", "pt");
  w.write(path);
}

void load_named_tensors(const std::string& path, const std::vector<NamedTensor>& params) {
  SafetensorsFile f(path);
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    if (!f.contains(p.name)) throw InputError(path + ": tensor '" + p.name + "' is missing");
    torch::Tensor t = f.tensor(p.name);
    if (t.sizes() != p.tensor.sizes())
      throw InputError(path + ": tensor '" + p.name + "' has shape " + c10::str(t.sizes()) + ", expected " +
                       c10::str(p.tensor.sizes()));
    p.tensor.copy_(t);
  }
}

nlohmann::json rng_state(const torch::Device& device) {
  torch::Tensor s = generator_state(device).to(torch::kCPU).contiguous();
  const uint8_t* d = s.data_ptr<uint8_t>();
  return nlohmann::json(std::vector<uint8_t>(d, d + s.numel()));
}

void set_rng_state(const torch::Device& device, const nlohmann::json& state) {
  auto bytes = state.get<std::vector<uint8_t>>();
  torch::Tensor s = torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, torch::kUInt8).clone();
  set_generator_state(device, s);
}

nlohmann::json cpu_rng_state() { return rng_state(torch::kCPU); }
void set_cpu_rng_state(const nlohmann::json& state) { set_rng_state(torch::kCPU, state); }

std::string write_checkpoint(const std::string& run_dir, int64_t step, const std::vector<NamedTensor>& params,
                             torch::optim::AdamW& optimizer, const nlohmann::json& state, int64_t keep) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  fs::create_directories(root);
  const std::string name = "step-" + std::to_string(step);
  const fs::path tmp = root / (name + ".tmp");
  const fs::path final_dir = root / name;
  fs::remove_all(tmp);
  fs::create_directories(tmp);

  save_named_tensors((tmp / "trainable.safetensors").string(), params);
  // Testing: die between a checkpoint's files, as kill -9 may (tests/test_kill9.cpp).
  if (const char* k = std::getenv("QSENTI_TEST_SIGKILL_IN_CHECKPOINT"); k && std::atoll(k) == step) ::raise(SIGKILL);

  SafetensorsWriter opt;
  nlohmann::json adam_steps = nlohmann::json::object();
  auto& st = optimizer.state();
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      const std::string* n = name_of(params, p);
      if (!n) throw Error("checkpoint: an optimizer parameter is not among the named trainable parameters");
      auto it = st.find(state_key(p));
      if (it == st.end()) continue;  // not stepped yet
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      adam_steps[*n] = s.step();
      opt.add(*n + ".exp_avg", s.exp_avg().contiguous());
      opt.add(*n + ".exp_avg_sq", s.exp_avg_sq().contiguous());
      if (s.max_exp_avg_sq().defined()) opt.add(*n + ".max_exp_avg_sq", s.max_exp_avg_sq().contiguous());
    }
  }
  opt.set_metadata("format", "pt");
  opt.write((tmp / "optimizer.safetensors").string());

  nlohmann::json full = state;
  full["adam_steps"] = adam_steps;
  write_text_atomically((tmp / "state.json").string(), full.dump(1) + "\n");

  replace_directory(tmp.string(), final_dir.string());
  write_text_atomically((root / "latest").string(), name + "\n");
  // Older checkpoints are superseded only once `latest` points at the new one;
  // the newest `keep` (this one among them) stay, and any other folder here
  // (a torn step-N.tmp) goes.
  std::vector<std::pair<int64_t, fs::path>> steps;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    const std::string f = e.path().filename().string();
    char* end = nullptr;
    const long long n = f.rfind("step-", 0) == 0 ? std::strtoll(f.c_str() + 5, &end, 10) : -1;
    if (f == name) continue;
    if (n < 0 || !end || *end) fs::remove_all(e.path());
    else steps.push_back({n, e.path()});
  }
  std::sort(steps.begin(), steps.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < steps.size(); ++i)
    if (static_cast<int64_t>(i) + 1 >= std::max<int64_t>(1, keep)) fs::remove_all(steps[i].second);
  return final_dir.string();
}

std::optional<std::string> latest_checkpoint(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  std::ifstream in(root / "latest");
  if (!in) return std::nullopt;
  std::string name;
  std::getline(in, name);
  const fs::path dir = root / name;
  if (name.empty() || !fs::is_directory(dir))
    throw InputError((root / "latest").string() + ": points at '" + name + "', which is not a checkpoint folder");
  return dir.string();
}

nlohmann::json read_checkpoint(const std::string& checkpoint_dir, const std::vector<NamedTensor>& params,
                               torch::optim::AdamW& optimizer) {
  const fs::path dir(checkpoint_dir);
  const std::string state_path = (dir / "state.json").string();
  nlohmann::json state;
  {
    std::ifstream in(state_path);
    if (!in) throw InputError(state_path + ": cannot open the checkpoint state");
    try {
      state = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      throw InputError(state_path + ": malformed JSON: " + e.what());
    }
  }
  load_named_tensors((dir / "trainable.safetensors").string(), params);

  const std::string opt_path = (dir / "optimizer.safetensors").string();
  SafetensorsFile f(opt_path);
  const auto& adam_steps = state.at("adam_steps");
  auto& st = optimizer.state();
  st.clear();
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      const std::string* n = name_of(params, p);
      if (!n) throw Error("checkpoint: an optimizer parameter is not among the named trainable parameters");
      if (!adam_steps.contains(*n)) continue;
      auto load = [&](const std::string& key) {
        if (!f.contains(key)) throw InputError(opt_path + ": tensor '" + key + "' is missing");
        torch::Tensor t = f.tensor(key).clone();
        if (t.sizes() != p.sizes())
          throw InputError(opt_path + ": tensor '" + key + "' has shape " + c10::str(t.sizes()) + ", expected " +
                           c10::str(p.sizes()));
        return t.to(p.device(), p.dtype());
      };
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->step(adam_steps.at(*n).get<int64_t>());
      s->exp_avg(load(*n + ".exp_avg"));
      s->exp_avg_sq(load(*n + ".exp_avg_sq"));
      if (f.contains(*n + ".max_exp_avg_sq")) s->max_exp_avg_sq(load(*n + ".max_exp_avg_sq"));
      st[state_key(p)] = std::move(s);
    }
  }
  return state;
}

}  // namespace qsenti
