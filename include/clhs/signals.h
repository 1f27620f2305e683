/**
 * @file signals.h
 * @brief SIGUSR1 and SIGTERM ask the run to checkpoint and stop (at the end of a step).
 */
#ifndef CLHS_SIGNALS_H
#define CLHS_SIGNALS_H

/** Install the handlers (they only record the signal). */
void clhs_signals_install(void);

/** The signal received since the start (SIGUSR1 or SIGTERM), or 0. */
int clhs_signal_pending(void);

#endif
