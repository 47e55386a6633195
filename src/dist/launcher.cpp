#include "dist/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ostream>
#include <thread>

#include "util/error.h"
#include "util/interrupt.h"
#include "util/runtime.h"

extern char** environ;

namespace qsenti::dist {
namespace {

std::string exit_description(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "ended";
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::vector<std::string> launcher_flags() {
  return {"--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port"};
}

std::vector<std::string> strip_launcher_flags(const std::vector<std::string>& args) {
  const auto flags = launcher_flags();
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool skip = false;
    for (const auto& f : flags) {
      if (a == f) {
        skip = true;
        ++i;  // its value
        break;
      }
      if (a.rfind(f + "=", 0) == 0) {
        skip = true;
        break;
      }
    }
    if (!skip) out.push_back(a);
  }
  return out;
}

int free_local_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("could not open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw Error("could not find a free local port for the rendezvous");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

int launch_workers(const LaunchOptions& o, const std::string& exe, const std::vector<std::string>& args,
                   std::ostream& log) {
  if (o.nproc_per_node < 1 || o.nnodes < 1 || o.node_rank < 0 || o.node_rank >= o.nnodes)
    throw Error("--nproc-per-node and --nnodes must be at least 1 and --node-rank below --nnodes", ExitCode::kUsage);
  const int world = o.nnodes * o.nproc_per_node;
  const int port = o.master_port > 0 ? o.master_port : (o.nnodes == 1 ? free_local_port() : 29500);
  const int threads = std::max(1, available_cores() / o.nproc_per_node);
  log << "launching " << o.nproc_per_node << " workers on node " << o.node_rank << " of " << o.nnodes << " (world "
      << world << ", rendezvous " << o.master_addr << ":" << port << ", " << threads << " threads each)\n";

  // Ctrl-C and SIGTERM are passed on to every worker (each saves a
  // checkpoint and exits); the program's one handler records them.
  InterruptScope interrupts;

  std::vector<pid_t> pids(static_cast<size_t>(o.nproc_per_node), -1);
  for (int i = 0; i < o.nproc_per_node; ++i) {
    const int rank = o.node_rank * o.nproc_per_node + i;
    std::vector<std::string> env_kv = {
        "RANK=" + std::to_string(rank),
        "LOCAL_RANK=" + std::to_string(i),
        "GROUP_RANK=" + std::to_string(o.node_rank),
        "WORLD_SIZE=" + std::to_string(world),
        "LOCAL_WORLD_SIZE=" + std::to_string(o.nproc_per_node),
        "MASTER_ADDR=" + o.master_addr,
        "MASTER_PORT=" + std::to_string(port),
        "OMP_NUM_THREADS=" + std::to_string(threads),
        "QSENTI_DIST_TIMEOUT=" + std::to_string(o.timeout_s),
    };
    // Everything the child needs is built before fork (this process has
    // threads: between fork and exec only async-signal-safe calls).
    std::vector<std::string> env_all;
    for (char** e = environ; e && *e; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      bool ours = false;
      for (const auto& mine : env_kv) ours = ours || mine.compare(0, key.size() + 1, key + "=") == 0;
      if (!ours) env_all.push_back(kv);
    }
    env_all.insert(env_all.end(), env_kv.begin(), env_kv.end());
    std::vector<char*> envp, argv;
    for (auto& kv : env_all) envp.push_back(kv.data());
    envp.push_back(nullptr);
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw Error("could not start worker " + std::to_string(rank) + ": fork failed");
    if (pid == 0) {
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      // A worker's Ctrl-C comes from the launcher, not the terminal: its own
      // process group keeps the two from arriving twice. It dies with the launcher.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
      ::execve(exe.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    pids[static_cast<size_t>(i)] = pid;
  }

  int result = 0;
  int alive = o.nproc_per_node;
  bool stopping = false;
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  auto signal_all = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) ::kill(p, sig);
  };
  while (alive > 0) {
    if (const int sig = take_interrupt()) signal_all(sig);
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      const int rank = o.node_rank * o.nproc_per_node + static_cast<int>(it - pids.begin());
      *it = -1;
      alive -= 1;
      const int code = exit_code_of(status);
      if (code != 0 && result == 0) {
        result = code;
        if (alive > 0) {
          log << "qsenti: worker " << rank << " " << exit_description(status) << "; stopping the other workers\n";
          signal_all(SIGTERM);
          stopping = true;
          stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        } else {
          log << "qsenti: worker " << rank << " " << exit_description(status) << "\n";
        }
      }
      continue;
    }
    if (stopping && std::chrono::steady_clock::now() > stop_deadline) {
      log << "qsenti: workers still running 30 s after SIGTERM: killing them\n";
      signal_all(SIGKILL);
      stop_deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return result;
}

}  // namespace qsenti::dist
