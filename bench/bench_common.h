#pragma once
// Shared by the benchmarks: Weibo texts, memory readings, timing.
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "util/assets.h"

namespace qsenti::bench {

// Texts of data/weibo2018/train.tsv: `limit` rows spread evenly over the
// file (0 = all), so their lengths follow the whole file's (mean 55 tokens);
// the first rows alone run longer (85).
inline std::vector<std::string> weibo_texts(size_t limit = 0) {
  std::ifstream in(qsenti::source_dir() + "/data/weibo2018/train.tsv");
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.rfind('\t');
    if (tab != std::string::npos) all.push_back(line.substr(0, tab));
  }
  if (limit == 0 || limit >= all.size()) return all;
  std::vector<std::string> out;
  for (size_t i = 0; i < limit; ++i) out.push_back(std::move(all[i * all.size() / limit]));
  return out;
}

// A field of /proc/self/status in bytes ("VmHWM:" peak, "VmRSS:" now).
inline uint64_t status_bytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == field) {
      uint64_t kb;
      in >> kb;
      return kb * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

inline uint64_t peak_rss_bytes() { return status_bytes("VmHWM:"); }
inline uint64_t rss_bytes() { return status_bytes("VmRSS:"); }

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace qsenti::bench
