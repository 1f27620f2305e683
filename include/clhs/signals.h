/**
 * @file signals.h
 * @brief SIGUSR1, SIGTERM and SIGINT ask the run to checkpoint and stop (at the end of a step).
 *
 * What each launcher does with the signals it receives (srun, mpiexec, PBS), and how to stop a
 * run so that it checkpoints: jobs/README.md, "Stopping a run: signals and launchers".
 */
#ifndef CLHS_SIGNALS_H
#define CLHS_SIGNALS_H

/** Install the handlers (they only record the signal, and stay installed: a repeated request
 * while a checkpoint is being written is recorded, never fatal). */
void clhs_signals_install(void);

/** The last of SIGUSR1, SIGTERM or SIGINT received since the start, or 0. */
int clhs_signal_pending(void);

/** "SIGUSR1", "SIGTERM", "SIGINT" (or "a signal" for any other number), for messages. */
const char *clhs_signal_name(int sig);

#endif
