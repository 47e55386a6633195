#include "dist/dist_env.h"

#include <cstdlib>
#include <string>

#include "util/error.h"

namespace qsenti::dist {
namespace {

int int_env(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw InputError(std::string("environment: ") + name + "='" + v + "' is not a whole number in [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

}  // namespace

DistEnv DistEnv::from_environment() {
  DistEnv e;
  e.world_size = int_env("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = int_env("RANK", 0, 0, 1 << 20);
  if (e.rank >= e.world_size)
    throw InputError("environment: RANK=" + std::to_string(e.rank) + " is not below WORLD_SIZE=" +
                     std::to_string(e.world_size));
  e.local_world_size = int_env("LOCAL_WORLD_SIZE", e.world_size, 1, e.world_size);
  e.local_rank = int_env("LOCAL_RANK", e.rank % e.local_world_size, 0, 1 << 20);
  if (e.local_rank >= e.local_world_size)
    throw InputError("environment: LOCAL_RANK=" + std::to_string(e.local_rank) + " is not below LOCAL_WORLD_SIZE=" +
                     std::to_string(e.local_world_size));
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = int_env("MASTER_PORT", 29500, 1, 65535);
  if (const char* t = std::getenv("QSENTI_DIST_TIMEOUT"); t && *t) {
    char* end = nullptr;
    e.timeout_s = std::strtod(t, &end);
    if (*end != '\0' || !(e.timeout_s > 0))
      throw InputError(std::string("environment: QSENTI_DIST_TIMEOUT='") + t + "' is not a positive number of seconds");
  }
  if (e.world_size > 1 && !std::getenv("MASTER_PORT"))
    throw InputError("environment: WORLD_SIZE=" + std::to_string(e.world_size) +
                     " but MASTER_PORT is not set (torchrun's contract: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  return e;
}

}  // namespace qsenti::dist
