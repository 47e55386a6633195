#pragma once
// The program's one place for SIGINT and SIGTERM. Long work (training, file
// predictions, the HTTP service) holds an InterruptScope and polls
// interrupt_requested() at its safe points: Ctrl-C, `kill`, Slurm's and
// `docker stop`'s SIGTERM all mean "save what you have and exit". A second
// signal while the first is pending ends the process at once, as usual.
#include <csignal>

namespace qsenti {

class InterruptScope {
 public:
  // `enabled` false makes a scope that installs nothing (library callers that
  // keep their own handlers). Scopes nest: handlers are installed by the
  // outermost one and the previous ones restored when it ends.
  explicit InterruptScope(bool enabled = true);
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  bool enabled_;
};

// True once SIGINT or SIGTERM arrived inside a scope (reset when the
// outermost scope starts).
bool interrupt_requested();
// The signal that asked (SIGINT or SIGTERM), 0 when none did.
int interrupt_signal();
// "Ctrl-C" or "SIGTERM", for messages.
const char* interrupt_name();

// The pending signal, cleared (0 when none): for a caller that passes each
// signal on (the worker launcher) and keeps running; the next one is then a
// first again.
int take_interrupt();

// For tests: behave as if `sig` had arrived.
void request_interrupt(int sig = SIGINT);

}  // namespace qsenti
