#include "util/interrupt.h"

#include <atomic>
#include <mutex>

#include <signal.h>

namespace qsenti {
namespace {

std::atomic<int> g_signal{0};  // lock-free: written from the handler
std::mutex g_mutex;            // guards the nesting count and saved handlers
int g_depth = 0;
struct sigaction g_prev_int {}, g_prev_term {};

extern "C" void on_interrupt(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {
    // The second signal: the default action, now.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

}  // namespace

InterruptScope::InterruptScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_depth++ > 0) return;
  g_signal.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &g_prev_int);
  ::sigaction(SIGTERM, &sa, &g_prev_term);
}

InterruptScope::~InterruptScope() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (--g_depth > 0) return;
  ::sigaction(SIGINT, &g_prev_int, nullptr);
  ::sigaction(SIGTERM, &g_prev_term, nullptr);
}

bool interrupt_requested() { return g_signal.load() != 0; }
int interrupt_signal() { return g_signal.load(); }
const char* interrupt_name() { return g_signal.load() == SIGTERM ? "SIGTERM" : "Ctrl-C"; }
int take_interrupt() { return g_signal.exchange(0); }
void request_interrupt(int sig) { g_signal.store(sig); }

}  // namespace qsenti
