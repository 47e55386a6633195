#pragma once
// One exception type for every user-facing failure: the CLI prints its
// message and exits with a code that scripts can rely on.
#include <stdexcept>
#include <string>

namespace qsenti {

enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,     // runtime failure (I/O, numerics, ...)
  kUsage = 2,       // bad command line
  kBadInput = 3,    // malformed data or checkpoint
  kInterrupted = 130,
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg, ExitCode code = ExitCode::kFailure)
      : std::runtime_error(msg), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Malformed input: a checkpoint, a config or a data file.
class InputError : public Error {
 public:
  explicit InputError(const std::string& msg) : Error(msg, ExitCode::kBadInput) {}
};

}  // namespace qsenti
