// Data-parallel training across processes (src/dist, c10d Gloo): N workers
// with --batch-size b end where one process with N x b ends; a worker that
// dies stops the others with a clear error, and the run resumes in one
// process; a rendezvous that never completes names who is missing; two hosts
// (network namespaces joined by a veth pair) train together.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "dist/launcher.h"
#include "dist/process_group.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace qsenti;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_args(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Every tensor of two safetensors files within `rel` of its norm.
void expect_close_weights(const std::string& a, const std::string& b, double rel) {
  SafetensorsFile fa(a), fb(b);
  ASSERT_EQ(fa.entries().size(), fb.entries().size());
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, e] : fa.entries()) {
    torch::Tensor x = fa.tensor(name).to(torch::kFloat64), y = fb.tensor(name).to(torch::kFloat64);
    const double norm = x.norm().item<double>();
    const double d = (x - y).norm().item<double>() / std::max(norm, 1e-12);
    if (d > worst) worst = d, worst_name = name;
    EXPECT_LE(d, rel) << name;
  }
  std::cerr << "worst relative difference " << worst << " (" << worst_name << ")\n";
}

// The environment torchrun gives worker `rank` of `world`, for a child.
struct WorkerEnv {
  WorkerEnv(int rank, int world, int port, const std::string& addr = "127.0.0.1", double timeout = 0) {
    set("RANK", std::to_string(rank));
    set("LOCAL_RANK", std::to_string(rank));
    set("WORLD_SIZE", std::to_string(world));
    set("LOCAL_WORLD_SIZE", std::to_string(world));
    set("MASTER_ADDR", addr);
    set("MASTER_PORT", std::to_string(port));
    if (timeout > 0) set("QSENTI_DIST_TIMEOUT", std::to_string(timeout));
  }
  ~WorkerEnv() {
    for (const auto& k : keys) ::unsetenv(k.c_str());
  }
  void set(const std::string& k, const std::string& v) {
    ::setenv(k.c_str(), v.c_str(), 1);
    keys.push_back(k);
  }
  std::vector<std::string> keys;
};

class DistTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dist::available()) GTEST_SKIP() << "this build has no c10d";
    data = test::write_toy_sentiment_data(tmp, 80);
  }
  // 60 training rows, global batch 16: the last batch of each epoch (12 rows)
  // splits 8 + 4 between the two workers.
  std::string opts(const std::string& method_opts, int max_length = 16) const {
    return method_opts + " --model " + test::fixture("refs/tiny-qwen3") + " --train " + data +
           " --epochs 2 --lr 5e-3 --max-length " + std::to_string(max_length) + " --dtype fp32 --valid-fraction 0.25 --lora-dropout 0 --threads 1"
           " --quiet";
  }
  void expect_equivalent(const std::string& method_opts, const std::string& weights, int max_length = 16) {
    auto one = test::run_qsenti("train " + opts(method_opts, max_length) + " --batch-size 16 --out " + (tmp / "one"), true);
    ASSERT_EQ(one.exit_code, 0) << one.output;
    auto two = test::run_qsenti(
        "train " + opts(method_opts, max_length) + " --batch-size 8 --nproc-per-node 2 --out " + (tmp / "two"), true);
    ASSERT_EQ(two.exit_code, 0) << two.output;
    expect_close_weights(tmp / ("one/" + weights), tmp / ("two/" + weights), 1e-5);
    // Only rank 0 wrote the run; the manifest says two workers trained it.
    auto m = test::read_json(tmp / "two/manifest.json");
    EXPECT_EQ(m["metrics"]["training"]["world_size"], 2);
    EXPECT_GT(m["metrics"]["training"]["allreduce_bytes_per_step"].get<int64_t>(), 0);
    auto m1 = test::read_json(tmp / "one/manifest.json");
    EXPECT_EQ(m["metrics"]["training"]["steps"], m1["metrics"]["training"]["steps"]);
    EXPECT_NEAR(m["metrics"]["valid"]["accuracy"].get<double>(), m1["metrics"]["valid"]["accuracy"].get<double>(), 1e-9);
  }
  test::TempDir tmp;
  std::string data;
};

}  // namespace

TEST_F(DistTrain, TwoWorkersEqualOneProcessWithTheGlobalBatchClassifierFull) {
  expect_equivalent("--method classifier --full", "model/model.safetensors");
}

TEST_F(DistTrain, TwoWorkersEqualOneProcessWithTheGlobalBatchClassifierLora) {
  expect_equivalent("--method classifier --lora-r 4 --lora-alpha 8", "adapter/adapter_model.safetensors");
}

TEST_F(DistTrain, TwoWorkersEqualOneProcessWithTheGlobalBatchMethodB) {
  // B's loss averages over answer tokens: the workers weight by those.
  expect_equivalent("--method lora --lora-r 4 --lora-alpha 8", "adapter/adapter_model.safetensors", 40);
}

TEST_F(DistTrain, TwoWorkersEqualOneProcessWithClassWeights) {
  // Unbalanced: every positive row, one negative in three. The weighted
  // cross-entropy is a weighted mean, so each worker's share is its summed
  // class weight, not its row count.
  std::ifstream in(data);
  std::ofstream out(tmp / "unbalanced.tsv");
  int neg = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("\tpositive") != std::string::npos || neg++ % 3 == 0) out << line << "\n";
  out.close();
  data = tmp / "unbalanced.tsv";
  expect_equivalent("--method classifier --lora-r 4 --lora-alpha 8 --class-weights auto",
                    "adapter/adapter_model.safetensors");
}

TEST_F(DistTrain, MethodARefusesSeveralWorkers) {
  auto r = test::run_qsenti("train --method embedding --model " + test::fixture("refs/tiny-qwen3") + " --train " +
                                data + " --nproc-per-node 2 --out " + (tmp / "a"),
                            true);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("one process"), std::string::npos) << r.output;
}

TEST_F(DistTrain, AWorkerKilledMidRunStopsTheOtherThenOneProcessResumes) {
  const std::string o = opts("--method classifier --lora-r 4 --lora-alpha 8") + " --save-every 1";
  auto ref = test::run_qsenti("train " + o + " --batch-size 16 --out " + (tmp / "ref"), true);
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  // Two workers started as torchrun would start them.
  const int port = dist::free_local_port();
  const std::string b = tmp / "b";
  pid_t w0, w1;
  {
    WorkerEnv e(0, 2, port);
    w0 = test::spawn_qsenti(split_args("train " + o + " --batch-size 8 --out " + b), tmp / "w0.log");
  }
  {
    WorkerEnv e(1, 2, port);
    w1 = test::spawn_qsenti(split_args("train " + o + " --batch-size 8 --out " + b), tmp / "w1.log");
  }
  // Kill rank 1 once a checkpoint exists (rank 0 wrote it).
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (!fs::exists(fs::path(b) / "checkpoints" / "latest") && Clock::now() < until && test::reap(w0, false) < 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(fs::path(b) / "checkpoints" / "latest")) << read_all(tmp / "w0.log");
  ::kill(w1, SIGKILL);
  const auto killed_at = Clock::now();
  EXPECT_EQ(test::reap(w1), 128 + SIGKILL);
  int rc0 = -1;
  while ((rc0 = test::reap(w0, false)) < 0 && Clock::now() - killed_at < std::chrono::seconds(90))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double took = std::chrono::duration<double>(Clock::now() - killed_at).count();
  if (rc0 < 0) {
    ::kill(w0, SIGKILL);
    test::reap(w0);
  }
  const std::string log0 = read_all(tmp / "w0.log");
  if (rc0 == 0) GTEST_SKIP() << "rank 0 finished before the kill mattered: " << log0;
  EXPECT_GT(rc0, 0) << log0;
  EXPECT_LT(took, 60.0) << log0;
  EXPECT_NE(log0.find("other workers failed"), std::string::npos) << log0;
  std::cerr << "the surviving worker stopped " << took << " s after the kill\n";
  // One process, the same global batch, from the last checkpoint.
  auto r = test::run_qsenti("train --resume " + b + " --batch-size 16 --quiet", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_close_weights(tmp / "ref/adapter/adapter_model.safetensors", b + "/adapter/adapter_model.safetensors", 1e-5);
}

// Ctrl-C at the launcher reaches every worker (each stops at a step, rank 0
// saves); the launcher then exits 130 as one process would, and the run
// resumes.
TEST_F(DistTrain, CtrlCAtTheLauncherStopsEveryWorkerWithACheckpoint) {
  const std::string b = tmp / "b";
  const std::string o = "--method classifier --lora-r 4 --lora-alpha 8 --model " + test::fixture("refs/tiny-qwen3") +
                        " --train " + data + " --epochs 6 --lr 5e-3 --max-length 16 --dtype fp32 --valid-fraction 0.25"
                        " --threads 1 --quiet --save-every 1 --batch-size 8";
  const pid_t launcher = test::spawn_qsenti(split_args("train " + o + " --nproc-per-node 2 --out " + b), tmp / "l.log");
  const auto until = Clock::now() + std::chrono::seconds(120);
  int rc = -1;
  while (!fs::exists(fs::path(b) / "checkpoints" / "latest") && Clock::now() < until &&
         (rc = test::reap(launcher, false)) < 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_LT(rc, 0) << "the launcher ended before a checkpoint: " << read_all(tmp / "l.log");
  ASSERT_TRUE(fs::exists(fs::path(b) / "checkpoints" / "latest")) << read_all(tmp / "l.log");
  ::kill(launcher, SIGINT);
  const auto sent = Clock::now();
  while ((rc = test::reap(launcher, false)) < 0 && Clock::now() - sent < std::chrono::seconds(90))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (rc < 0) {
    ::kill(launcher, SIGKILL);
    test::reap(launcher);
  }
  const std::string log = read_all(tmp / "l.log");
  ASSERT_EQ(rc, 130) << log;
  EXPECT_NE(log.find("interrupted by Ctrl-C"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(fs::path(b) / "manifest.json"));
  auto r = test::run_qsenti("train --resume " + b + " --batch-size 16 --quiet", true);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(b) / "manifest.json"));
}

TEST_F(DistTrain, ResumingWithAnotherGlobalBatchIsRefused) {
  const std::string o = opts("--method classifier --lora-r 4 --lora-alpha 8") + " --batch-size 8 --max-steps 2";
  auto r = test::run_qsenti("train " + o + " --out " + (tmp / "a") + " --keep-checkpoints", true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = test::run_qsenti("train --resume " + (tmp / "a") + " --batch-size 4 --max-steps 3", true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("global batch of 8"), std::string::npos) << r.output;
}

TEST_F(DistTrain, ARendezvousThatNeverCompletesNamesTheMissingRanks) {
  const int port = dist::free_local_port();
  pid_t w;
  {
    WorkerEnv e(0, 3, port, "127.0.0.1", 3);
    w = test::spawn_qsenti(split_args("train " + opts("--method classifier") + " --batch-size 8 --out " + (tmp / "a")),
                           tmp / "w.log");
  }
  const auto t0 = Clock::now();
  const int rc = test::reap(w);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string log = read_all(tmp / "w.log");
  EXPECT_NE(rc, 0) << log;
  EXPECT_LT(took, 30.0);
  EXPECT_NE(log.find("ranks 1, 2 of 3 never arrived"), std::string::npos) << log;
}

// Two hosts: rank 0 in one network namespace, rank 1 in another, joined by a
// veth pair; needs root and iproute2 (CI runs as root).
TEST_F(DistTrain, TwoHostsInNetworkNamespacesTrainToCompletion) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for ip netns";
  const std::string a = "qsenti-a-" + std::to_string(::getpid()), bns = "qsenti-b-" + std::to_string(::getpid());
  const std::string va = "qva" + std::to_string(::getpid() % 100000), vb = "qvb" + std::to_string(::getpid() % 100000);
  auto sh = [](const std::string& c) { return test::run_shell(c + " 2>&1"); };
  struct Cleanup {
    std::string a, b;
    ~Cleanup() { test::run_shell("ip netns del " + a + " 2>/dev/null; ip netns del " + b + " 2>/dev/null"); }
  } cleanup{a, bns};
  auto setup = sh("ip netns add " + a + " && ip netns add " + bns + " && ip link add " + va + " type veth peer name " +
                  vb + " && ip link set " + va + " netns " + a + " && ip link set " + vb + " netns " + bns +
                  " && ip -n " + a + " addr add 10.231.7.1/24 dev " + va + " && ip -n " + bns +
                  " addr add 10.231.7.2/24 dev " + vb + " && ip -n " + a + " link set " + va + " up && ip -n " + bns +
                  " link set " + vb + " up && ip -n " + a + " link set lo up && ip -n " + bns + " link set lo up");
  if (setup.exit_code != 0) GTEST_SKIP() << "network namespaces unavailable here: " << setup.output;
  const std::string o = opts("--method classifier --lora-r 4 --lora-alpha 8");
  auto ref = test::run_qsenti("train " + o + " --batch-size 16 --out " + (tmp / "ref"), true);
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const std::string common = " --batch-size 8 --out " + (tmp / "two");
  auto worker = [&](const std::string& ns, int rank, const std::string& log) {
    const std::string cmd = "ip netns exec " + ns + " env RANK=" + std::to_string(rank) +
                            " LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 MASTER_ADDR=10.231.7.1 MASTER_PORT=29517"
                            " QSENTI_DIST_TIMEOUT=60 " + test::binary() + " train " + o + common + " > " + log +
                            " 2>&1";
    return std::thread([cmd, log] {
      auto r = test::run_shell(cmd + "; echo rc=$? >> " + log);
      (void)r;
    });
  };
  std::thread t0 = worker(a, 0, tmp / "h0.log"), t1 = worker(bns, 1, tmp / "h1.log");
  t0.join();
  t1.join();
  const std::string l0 = read_all(tmp / "h0.log"), l1 = read_all(tmp / "h1.log");
  ASSERT_NE(l0.find("rc=0"), std::string::npos) << l0;
  ASSERT_NE(l1.find("rc=0"), std::string::npos) << l1;
  expect_close_weights(tmp / "ref/adapter/adapter_model.safetensors", tmp / "two/adapter/adapter_model.safetensors",
                       1e-5);
}
