#pragma once
// What `qsenti info --system` reports: the LibTorch this binary runs on, its
// threads and build flags, the CPU's features, and CUDA / cuDNN / NCCL and the
// GPUs with their memory when the build has CUDA.
#include <nlohmann/json.hpp>

#include <string>

namespace qsenti {

nlohmann::json system_info();
std::string format_system_info(const nlohmann::json& info);

}  // namespace qsenti
