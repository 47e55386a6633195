#pragma once
// Shared by the benchmarks: Weibo texts, memory readings, timing.
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace qsenti::bench {

// The texts of data/weibo2018/train.tsv (first `limit`, 0 = all).
inline std::vector<std::string> weibo_texts(size_t limit = 0) {
  std::ifstream in(std::string(QSENTI_SOURCE_DIR) + "/data/weibo2018/train.tsv");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line) && (limit == 0 || out.size() < limit)) {
    auto tab = line.rfind('\t');
    if (tab != std::string::npos) out.push_back(line.substr(0, tab));
  }
  return out;
}

// Peak resident memory of this process (VmHWM), bytes.
inline uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      uint64_t kb;
      in >> kb;
      return kb * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace qsenti::bench
