#include "dist/process_group.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "util/error.h"

#ifdef QSENTI_HAVE_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef QSENTI_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace qsenti::dist {

namespace {
ProcessGroup* g_world = nullptr;
}

ProcessGroup* world() { return g_world; }
void set_world(ProcessGroup* group) { g_world = group; }

WorldScope::WorldScope(std::unique_ptr<ProcessGroup> group) : group_(std::move(group)) { set_world(group_.get()); }
WorldScope::~WorldScope() {
  if (g_world == group_.get()) set_world(nullptr);
}

#ifndef QSENTI_HAVE_C10D

bool available() { return false; }
std::unique_ptr<ProcessGroup> init_process_group(const DistEnv&, const torch::Device&) {
  throw Error("this build of qsenti has no c10d (LibTorch's distributed engine): it trains in one process only");
}

#else

bool available() { return true; }

namespace {

// c10d reports a peer that died or a timeout as an exception from wait();
// say which rank saw it and what it usually means.
[[noreturn]] void collective_failed(int rank, const char* what, const std::exception& e) {
  std::string msg = e.what();
  if (auto nl = msg.find("\nException raised from"); nl != std::string::npos) msg.resize(nl);
  throw Error("rank " + std::to_string(rank) + ": " + what +
              " with the other workers failed (another worker has probably stopped or is unreachable; see its "
              "output): " + msg);
}

class C10dWork : public PendingWork {
 public:
  C10dWork(c10::intrusive_ptr<c10d::Work> w, std::vector<torch::Tensor> keep, int rank, const char* what)
      : work_(std::move(w)), keep_(std::move(keep)), rank_(rank), what_(what) {}
  void wait() override {
    try {
      work_->wait();
    } catch (const std::exception& e) {
      collective_failed(rank_, what_, e);
    }
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::vector<torch::Tensor> keep_;  // the buffers stay alive while in flight
  int rank_;
  const char* what_;
};

// One class for Gloo and NCCL: the c10d calls are spelled alike in 1.13
// (ProcessGroup) and 2.x (Backend).
template <class PG>
class C10dGroup : public ProcessGroup {
 public:
  C10dGroup(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<PG> pg, int rank, int size, torch::Device device)
      : store_(std::move(store)), pg_(std::move(pg)), rank_(rank), size_(size), device_(device) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::unique_ptr<PendingWork> allreduce_sum_async(torch::Tensor& t) override {
    std::vector<torch::Tensor> v{t};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    try {
      return std::make_unique<C10dWork>(pg_->allreduce(v, o), v, rank_, "an all-reduce");
    } catch (const std::exception& e) {
      collective_failed(rank_, "an all-reduce", e);
    }
  }
  void broadcast(torch::Tensor& t, int root) override {
    std::vector<torch::Tensor> v{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    try {
      pg_->broadcast(v, o)->wait();
    } catch (const std::exception& e) {
      collective_failed(rank_, "a broadcast", e);
    }
  }
  std::vector<torch::Tensor> allgather(const torch::Tensor& t) override {
    std::vector<torch::Tensor> in{t.contiguous()};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < size_; ++r) out[0].push_back(torch::empty_like(in[0]));
    try {
      pg_->allgather(out, in)->wait();
    } catch (const std::exception& e) {
      collective_failed(rank_, "an all-gather", e);
    }
    return out[0];
  }
  void barrier() override {
    // A tiny all-reduce: ordered with the other collectives on every backend.
    torch::Tensor t = torch::zeros({1}, torch::TensorOptions().device(device_));
    allreduce_sum(t);
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;  // the group's connections were made through it
  c10::intrusive_ptr<PG> pg_;
  int rank_, size_;
  torch::Device device_;  // where the group's tensors live
};

// The address this host uses to reach `host:port`: the one Gloo should
// listen on (hostnames inside containers and namespaces often resolve to
// loopback or nothing).
std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    throw InputError("MASTER_ADDR='" + host + "' does not resolve to an IPv4 address");
  std::string out = "127.0.0.1";
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0) {
    if (::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
      sockaddr_in me{};
      socklen_t len = sizeof me;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len) == 0) {
        char buf[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &me.sin_addr, buf, sizeof buf)) out = buf;
      }
    }
    ::close(fd);
  }
  freeaddrinfo(res);
  return out;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

}  // namespace

std::unique_ptr<ProcessGroup> init_process_group(const DistEnv& env, const torch::Device& device) {
  using namespace std::chrono;
  const auto timeout = milliseconds(static_cast<int64_t>(env.timeout_s * 1000));
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = false;  // we wait ourselves, to name who is missing
    so.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find("\nException raised from"); nl != std::string::npos) msg.resize(nl);
    throw Error(env.rank == 0 ? "rank 0 could not serve the rendezvous on " + where + " (port in use?): " + msg
                              : "rank " + std::to_string(env.rank) + " could not reach rank 0's rendezvous at " +
                                    where + " within " + std::to_string(static_cast<int>(env.timeout_s)) +
                                    " s (is rank 0 running? MASTER_ADDR, MASTER_PORT): " + msg);
  }
  // Everyone announces itself, then waits for the others.
  const std::string me = host_name() + " pid " + std::to_string(::getpid());
  store->set("qsenti/arrived/" + std::to_string(env.rank), std::vector<uint8_t>(me.begin(), me.end()));
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> missing;
    for (int r = 0; r < env.world_size; ++r)
      if (!store->check({"qsenti/arrived/" + std::to_string(r)})) missing.push_back(std::to_string(r));
    if (missing.empty()) break;
    if (steady_clock::now() >= deadline) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      throw Error("rank " + std::to_string(env.rank) + ": the rendezvous at " + where + " did not complete within " +
                  std::to_string(static_cast<int>(env.timeout_s)) + " s: rank" + (missing.size() > 1 ? "s " : " ") +
                  list + " of " + std::to_string(env.world_size) + " never arrived (QSENTI_DIST_TIMEOUT)");
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  try {
    if (device.is_cuda()) {
#ifdef QSENTI_HAVE_NCCL
      auto prefix = c10::make_intrusive<c10d::PrefixStore>("nccl", store);
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefix, env.rank, env.world_size, opts);
      return std::make_unique<C10dGroup<c10d::ProcessGroupNCCL>>(store, pg, env.rank, env.world_size, device);
#else
      throw Error("this build of qsenti has no NCCL: train on several GPUs with a CUDA build of LibTorch 2.x "
                  "(scripts/setup.sh --libtorch pypi), or with --device cpu");
#endif
    }
    auto prefix = c10::make_intrusive<c10d::PrefixStore>("gloo", store);
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else
      opts->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname(local_address_towards(env.master_addr, env.master_port)));
    opts->threads = 2;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefix, env.rank, env.world_size, opts);
    return std::make_unique<C10dGroup<c10d::ProcessGroupGloo>>(store, pg, env.rank, env.world_size, torch::Device(torch::kCPU));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find("\nException raised from"); nl != std::string::npos) msg.resize(nl);
    throw Error("rank " + std::to_string(env.rank) + ": connecting the workers through " + where + " failed: " + msg);
  }
}

#endif  // QSENTI_HAVE_C10D

}  // namespace qsenti::dist
