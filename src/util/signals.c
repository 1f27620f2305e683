/* SIGUSR1, SIGTERM and SIGINT ask the run to checkpoint and stop. The handlers only record
 * the signal: the run loop looks at it after each step and all ranks agree before acting (no
 * rank checkpoints alone). The handlers stay installed for the whole run, so a second or third
 * request (a repeated Ctrl-C, a scheduler's TERM after a USR1 warning) while a checkpoint is
 * being written is recorded too and never ends the process in the middle of the write; only
 * SIGKILL (or SIGQUIT, Ctrl-\) does, and then the previous checkpoint stays usable. */
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
  /* While one is handled the others wait: the recorded signal is one of them, whole. */
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR1);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGINT);
  sa.sa_flags = SA_RESTART; /* not SA_RESETHAND: every later request is recorded as well */
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

int clhs_signal_pending(void) {
  return (int)pending;
}

const char *clhs_signal_name(int sig) {
  switch (sig) {
  case SIGUSR1: return "SIGUSR1";
  case SIGTERM: return "SIGTERM";
  case SIGINT: return "SIGINT";
  default: return "a signal";
  }
}
