/* The handlers only record the signal: the run loop looks at it after each step and all
 * ranks agree before acting (no rank checkpoints alone). */
#define _POSIX_C_SOURCE 200809L
#include "clhs/signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending = 0;

static void on_signal(int sig) {
  pending = sig;
}

void clhs_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int clhs_signal_pending(void) {
  return (int)pending;
}
