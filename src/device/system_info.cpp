#include "device/system_info.h"

#include <torch/torch.h>
#include <ATen/Parallel.h>

#include <fstream>
#include <set>
#include <sstream>

#include "util/runtime.h"
#include "util/torch_compat.h"

#ifdef QSENTI_WITH_CUDA
#include <cuda_runtime_api.h>
#if __has_include(<torch/csrc/cuda/nccl.h>)
#include <torch/csrc/cuda/nccl.h>
#define QSENTI_HAVE_NCCL_VERSION 1
#endif
#endif

namespace qsenti {
namespace {

// The first "model name" and the flags of interest from /proc/cpuinfo.
nlohmann::json cpu_info() {
  nlohmann::json j;
  std::ifstream in("/proc/cpuinfo");
  std::string line, model;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && model.empty()) model = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream s(value);
      std::string f;
      while (s >> f) flags.insert(f);
    }
  }
  j["model"] = model;
  j["cores_available"] = available_cores();
  // What decides which kernels LibTorch picks: AVX2 / AVX-512 for fp32,
  // avx512_bf16 and AMX for bf16 matmuls through oneDNN.
  nlohmann::json feats = nlohmann::json::object();
  for (const char* f : {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
                        "amx_int8"})
    feats[f] = flags.count(f) > 0;
  j["features"] = feats;
  return j;
}

nlohmann::json cuda_info() {
  nlohmann::json j;
#ifdef QSENTI_WITH_CUDA
  j["built_with_cuda"] = true;
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  auto ver = [](int v) { return v ? std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10) : std::string(); };
  j["cuda_runtime"] = ver(runtime);
  j["cuda_driver"] = driver ? ver(driver) : "none (no driver)";
  const long cudnn = at::detail::getCUDAHooks().versionCuDNN();
  j["cudnn"] = cudnn ? std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) + "." +
                           std::to_string(cudnn % 100)
                     : std::string();
#ifdef QSENTI_HAVE_NCCL_VERSION
  const std::uint64_t nccl = torch::cuda::nccl::version();
  // Packed by torch as major << 32 | minor << 16 | patch.
  j["nccl"] = std::to_string(nccl >> 32) + "." + std::to_string((nccl >> 16) & 0xffff) + "." + std::to_string(nccl & 0xffff);
#endif
  nlohmann::json gpus = nlohmann::json::array();
  const bool available = torch::cuda::is_available();
  const int n = available ? static_cast<int>(torch::cuda::device_count()) : 0;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    size_t free_b = 0, total_b = 0;
    cudaSetDevice(i);
    cudaMemGetInfo(&free_b, &total_b);
    gpus.push_back({{"index", i},
                    {"name", p.name},
                    {"compute_capability", std::to_string(p.major) + "." + std::to_string(p.minor)},
                    {"memory_bytes", static_cast<std::uint64_t>(p.totalGlobalMem)},
                    {"free_bytes", static_cast<std::uint64_t>(free_b)},
                    {"multiprocessors", p.multiProcessorCount},
                    {"bf16", p.major >= 8}});
  }
  j["available"] = available;
  j["gpus"] = gpus;
#else
  j["built_with_cuda"] = false;
  j["available"] = false;
  j["gpus"] = nlohmann::json::array();
#endif
  return j;
}

}  // namespace

nlohmann::json system_info() {
  nlohmann::json j;
  j["qsenti_version"] = QSENTI_VERSION;
  j["libtorch"] = {{"version", compat::torch_version()},
                   {"mkl", at::hasMKL()},
                   {"mkldnn", at::hasMKLDNN()},
                   {"openmp", at::hasOpenMP()},
                   {"fused_attention", compat::kHasFusedAttention},
                   {"build_config", at::show_config()}};
  j["threads"] = {{"intra_op", at::get_num_threads()}, {"inter_op", at::get_num_interop_threads()}};
  j["cpu"] = cpu_info();
  j["cuda"] = cuda_info();
  return j;
}

std::string format_system_info(const nlohmann::json& j) {
  std::ostringstream s;
  const auto& t = j["libtorch"];
  s << "qsenti        " << j["qsenti_version"].get<std::string>() << "\n"
    << "LibTorch      " << t["version"].get<std::string>() << " (MKL " << (t["mkl"].get<bool>() ? "yes" : "no")
    << ", oneDNN " << (t["mkldnn"].get<bool>() ? "yes" : "no") << ", OpenMP " << (t["openmp"].get<bool>() ? "yes" : "no")
    << ", fused attention " << (t["fused_attention"].get<bool>() ? "yes" : "no") << ")\n"
    << "threads       " << j["threads"]["intra_op"].get<int>() << " intra-op, " << j["threads"]["inter_op"].get<int>()
    << " inter-op\n"
    << "CPU           " << j["cpu"]["model"].get<std::string>() << ", " << j["cpu"]["cores_available"].get<int>()
    << " cores available\n"
    << "CPU features ";
  for (const auto& [k, v] : j["cpu"]["features"].items())
    if (v.get<bool>()) s << " " << k;
  s << "\n";
  const auto& c = j["cuda"];
  if (!c["built_with_cuda"].get<bool>()) {
    s << "CUDA          not in this build (scripts/setup.sh --libtorch pypi builds with it)\n";
  } else {
    s << "CUDA          runtime " << c.value("cuda_runtime", "") << ", driver " << c.value("cuda_driver", "")
      << ", cuDNN " << c.value("cudnn", "") << (c.contains("nccl") ? ", NCCL " + c["nccl"].get<std::string>() : "")
      << "\n";
    if (c["gpus"].empty()) s << "GPUs          none visible\n";
    for (const auto& g : c["gpus"])
      s << "GPU " << g["index"].get<int>() << "         " << g["name"].get<std::string>() << ", compute "
        << g["compute_capability"].get<std::string>() << ", "
        << (g["memory_bytes"].get<std::uint64_t>() >> 20) << " MiB (" << (g["free_bytes"].get<std::uint64_t>() >> 20)
        << " MiB free)\n";
  }
  s << "\nbuild configuration:\n" << t["build_config"].get<std::string>();
  return s.str();
}

}  // namespace qsenti
