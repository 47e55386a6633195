// Tokenizer throughput on the Weibo training texts, and tokenizer.json load
// time. Usage: bench_tokenizer [TSV] [--threads N] [--repeat R]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "text/tokenizer.h"
#include "util/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<std::string> read_texts(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "bench_tokenizer: cannot open " << path << "\n";
    std::exit(1);
  }
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.rfind('\t');
    texts.push_back(tab == std::string::npos ? line : line.substr(0, tab));
  }
  return texts;
}

struct Result {
  double seconds;
  size_t tokens;
};

// Encodes all texts `repeat` times spread over `threads` threads.
Result run(const qsenti::Tokenizer& tok, const std::vector<std::string>& texts, int threads,
           int repeat) {
  std::vector<size_t> counts(static_cast<size_t>(threads), 0);
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<int32_t> ids;
      for (int r = 0; r < repeat; ++r) {
        for (size_t k = static_cast<size_t>(t); k < texts.size(); k += static_cast<size_t>(threads)) {
          ids.clear();
          tok.encode_into(texts[k], qsenti::SpecialTokens::kAsText, ids);
          counts[static_cast<size_t>(t)] += ids.size();
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  Result res{seconds_since(t0), 0};
  for (size_t c : counts) res.tokens += c;
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tsv = std::string(QSENTI_SOURCE_DIR) + "/data/weibo2018/train.tsv";
  int threads = qsenti::available_cores();
  int repeat = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage: bench_tokenizer [TSV] [--threads N] [--repeat R]\n";
      return 0;
    } else {
      tsv = a;
    }
  }
  if (threads < 1) threads = 1;
  if (repeat < 1) repeat = 1;

  const std::string path = qsenti::Tokenizer::default_path();
  double best_load = 1e9;
  std::shared_ptr<const qsenti::Tokenizer> tok;
  for (int k = 0; k < 3; ++k) {
    const auto t0 = Clock::now();
    tok = qsenti::Tokenizer::from_file(path);
    best_load = std::min(best_load, seconds_since(t0));
  }
  std::printf("load %s: %.3f s (best of 3)\n", path.c_str(), best_load);

  const auto texts = read_texts(tsv);
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  std::printf("texts: %zu from %s, %.2f MB\n", texts.size(), tsv.c_str(), bytes / 1e6);

  run(*tok, texts, 1, 1);  // warm-up: property tables, caches
  for (int th : {1, threads}) {
    const Result r = run(*tok, texts, th, repeat);
    const double mb = static_cast<double>(bytes) * repeat / 1e6;
    std::printf("%2d thread%s: %7.2f MB/s  %9.0f texts/s  %10.0f tokens/s\n", th,
                th == 1 ? " " : "s", mb / r.seconds, texts.size() * repeat / r.seconds,
                r.tokens / r.seconds);
    if (th == threads) break;
  }
  return 0;
}
