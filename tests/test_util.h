#pragma once
// Helpers shared by the tests: fixture paths, JSON references as tensors,
// temporary folders and running the CLI.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "util/assets.h"

namespace qsenti::test {

// The checkout's paths come from one library function and the tests' own
// location, not from compile definitions: an absolute path in every test
// file's flags would make each clone miss the shared ccache (CMakeLists.txt).
inline const char* source_dir() {
  static const std::string dir = qsenti::source_dir();
  return dir.c_str();
}
inline const char* fixtures_dir() {
  static const std::string dir = std::string(source_dir()) + "/tests/fixtures";
  return dir.c_str();
}
// The qsenti binary sits beside qsenti_tests in the build folder.
inline const char* binary() {
  static const std::string path =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().string() + "/qsenti";
  return path.c_str();
}
inline std::string fixture(const std::string& rel) { return std::string(fixtures_dir()) + "/" + rel; }
inline std::string source_path(const std::string& rel) { return std::string(source_dir()) + "/" + rel; }

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

// A nested JSON list of numbers as a float64 tensor.
inline torch::Tensor json_tensor(const nlohmann::json& j) {
  std::vector<double> flat;
  std::vector<int64_t> shape;
  const nlohmann::json* cur = &j;
  while (cur->is_array()) {
    shape.push_back(static_cast<int64_t>(cur->size()));
    if (cur->empty()) break;
    cur = &(*cur)[0];
  }
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& x) {
    if (x.is_array())
      for (const auto& e : x) walk(e);
    else
      flat.push_back(x.get<double>());
  };
  walk(j);
  return torch::tensor(flat, torch::kFloat64).reshape(shape);
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>();
}

// The device the reference tests run on: QSENTI_TEST_DEVICE (scripts/gpu_check.sh
// sets cuda), else the CPU.
inline std::string test_device() {
  const char* d = std::getenv("QSENTI_TEST_DEVICE");
  return d && *d ? d : "cpu";
}

// A fresh temporary folder, removed when the object goes.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("qsenti-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code;
  std::string output;  // stdout (stderr too when merged)
};

// Runs a shell command line; its stdout is captured.
inline CommandResult run_shell(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Runs the qsenti binary with `args` (a shell fragment); stdout is captured.
inline CommandResult run_qsenti(const std::string& args, bool merge_stderr = false) {
  return run_shell(std::string(qsenti::test::binary()) + " " + args + (merge_stderr ? " 2>&1" : ""));
}

// The qsenti binary with `args`, in the background, its stdout and stderr
// to `log`; waitpid() it. Everything is prepared before fork(): the child
// only redirects and execs.
inline pid_t spawn_qsenti(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all{qsenti::test::binary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Exit code of a finished child, 128+N for a signal N, -1 if still running (wait = false).
inline int reap(pid_t pid, bool wait = true) {
  int status = 0;
  if (::waitpid(pid, &status, wait ? 0 : WNOHANG) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// `rows` short posts, alternating positive ("好/喜欢") and negative
// ("差/讨厌"), with filler so lengths vary: tmp/data.tsv, labels by name.
inline std::string write_toy_sentiment_data(const TempDir& tmp, int rows = 80) {
  const std::vector<std::string> pos{"今天很好", "我喜欢这个", "真好看啊", "非常喜欢"};
  const std::vector<std::string> neg{"今天很差", "我讨厌这个", "真差劲啊", "非常讨厌"};
  const std::vector<std::string> fill{"", "，哈哈", "。天气晴朗，出去走走", "！"};
  std::ofstream out(tmp / "data.tsv");
  for (int i = 0; i < rows; ++i) {
    const bool p = i % 2 == 0;
    out << (p ? pos : neg)[i / 2 % 4] << fill[i / 8 % 4] << "\t" << (p ? "positive" : "negative") << "\n";
  }
  return tmp / "data.tsv";
}

}  // namespace qsenti::test
