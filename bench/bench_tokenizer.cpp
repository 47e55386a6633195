// Tokenizer speed: load time of tokenizer.json, and encoding throughput on
// the Weibo training texts, one thread and all threads.
//
//   bench_tokenizer [TSV] [--threads N] [--rounds R] [--loads L]
//
// Each figure is the best of R rounds over the whole corpus (L loads), so a
// busy machine disturbs it less; "per CPU-second" divides by the CPU time of
// the encoding threads instead of the wall clock.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "text/tokenizer.h"
#include "util/assets.h"
#include "util/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
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

struct Round {
  double wall;  // seconds
  double cpu;   // CPU seconds of the encoding threads, summed
  size_t tokens;
};

// Encodes every text once, spread over `threads` threads.
Round run_round(const qsenti::Tokenizer& tok, const std::vector<std::string>& texts,
                int threads) {
  std::vector<size_t> counts(static_cast<size_t>(threads), 0);
  std::vector<double> cpu(static_cast<size_t>(threads), 0.0);
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const double c0 = thread_cpu_seconds();
      std::vector<int32_t> ids;
      size_t count = 0;  // local: a shared array would false-share
      for (size_t k = static_cast<size_t>(t); k < texts.size(); k += static_cast<size_t>(threads)) {
        ids.clear();
        tok.encode_into(texts[k], qsenti::SpecialTokens::kAsText, ids);
        count += ids.size();
      }
      counts[static_cast<size_t>(t)] = count;
      cpu[static_cast<size_t>(t)] = thread_cpu_seconds() - c0;
    });
  }
  for (auto& th : pool) th.join();
  Round r{seconds_since(t0), 0.0, 0};
  for (size_t c : counts) r.tokens += c;
  for (double c : cpu) r.cpu += c;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tsv = qsenti::source_dir() + "/data/weibo2018/train.tsv";
  int threads = qsenti::available_cores();
  int rounds = 10, loads = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--loads" && i + 1 < argc) {
      loads = std::atoi(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      std::cout << "usage: bench_tokenizer [TSV] [--threads N] [--rounds R] [--loads L]\n";
      return 0;
    } else {
      tsv = a;
    }
  }
  threads = std::max(threads, 1);
  rounds = std::max(rounds, 1);
  loads = std::max(loads, 1);

  const std::string path = qsenti::Tokenizer::default_path();
  double best_load = 1e9;
  std::shared_ptr<const qsenti::Tokenizer> tok;
  for (int k = 0; k < loads; ++k) {
    const auto t0 = Clock::now();
    tok = qsenti::Tokenizer::from_file(path);
    best_load = std::min(best_load, seconds_since(t0));
  }
  std::printf("load %s: %.3f s (best of %d)\n", path.c_str(), best_load, loads);

  const auto texts = read_texts(tsv);
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("texts: %zu from %s, %.2f MB\n", texts.size(), tsv.c_str(), mb);

  run_round(*tok, texts, 1);  // warm-up: property tables, scratch buffers
  std::vector<int> counts = {1};
  if (threads > 1) counts.push_back(threads);
  for (int th : counts) {
    Round best{1e9, 1e9, 0};
    for (int r = 0; r < rounds; ++r) {
      const Round x = run_round(*tok, texts, th);
      best.wall = std::min(best.wall, x.wall);
      best.cpu = std::min(best.cpu, x.cpu);
      best.tokens = x.tokens;
    }
    std::printf("%2d thread%s: %7.2f MB/s  %8.0f texts/s  %9.0f tokens/s   %6.2f MB per CPU-second\n",
                th, th == 1 ? " " : "s", mb / best.wall,
                static_cast<double>(texts.size()) / best.wall,
                static_cast<double>(best.tokens) / best.wall, mb / best.cpu);
  }
  return 0;
}
