#pragma once
// Shared by the fuzz targets. The parsers under test read files, so each
// input is written to a scratch file first (in /dev/shm when there is one:
// tmpfs keeps the per-input cost to a few microseconds).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace qsenti_fuzz {

// A folder of this process's own (several fuzzers may run at once).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
    auto d = base / ("qsenti-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

// Writes the input to scratch_dir()/name and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Stops the fuzzer with a finding when an invariant the parser promises
// does not hold (a plain abort: libFuzzer saves the input).
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

}  // namespace qsenti_fuzz
