#!/bin/bash
# Start clhsim under an MPI launcher so that stopping it (Ctrl-C, kill, a scheduler's TERM)
# makes clhsim write a checkpoint and exit with status 3, instead of the launcher killing the
# ranks (Open MPI's mpiexec answers TERM, INT and HUP by killing the job: TERM to the ranks 1 s
# later, KILL 1 s after that, exit status 1; srun answers TERM by killing the tasks at once):
#   jobs/launch.sh mpiexec -n 4 build/release/clhsim run my.yml -P checkpoint.every=52
#   jobs/launch.sh srun --mpi=pmix build/release/clhsim restart checkpoints
# then Ctrl-C, or kill -TERM (-INT, -HUP, -USR1) this script's pid: clhsim finishes its step,
# writes a checkpoint and the script exits 3 (`clhsim restart DIR` continues). A repeated
# request only says so (it is not forwarded: mpiexec dies of a USR1 that arrives while it
# shuts down). To abandon a run at once, kill -KILL the ranks (the previous checkpoint stays
# usable).
# How: the launcher runs in a process group of its own (a Ctrl-C, or a kill of this script's
# process group, reaches this script only) with its standard input from /dev/null; this
# script turns the first TERM, INT, HUP or USR1 into one SIGUSR1 to the launcher, which
# mpiexec and srun pass to every rank; then it waits for the launcher and exits with its
# status. The contract per launcher and scheduler: jobs/README.md, "Stopping a run: signals
# and launchers". Where a scheduler signals every process of the job, the launcher included
# (PBS at the walltime or on qdel), nothing shields the launcher: the ranks get that TERM too
# and checkpoint, but mpiexec kills them 2 s later (OMPI_MCA_odls_base_sigkill_timeout=S makes
# it 2 S, at the price of 2 S more on every exit with status 3).
set -uo pipefail
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
  exit 2
fi

# The launcher's exit status goes through a file: bash's `wait`, interrupted by a trapped
# signal just as the child ends, can return 128 + the signal (or -1) instead of its status. A
# subshell that ignores TERM, INT, HUP and USR1 (so that its wait is never interrupted; the
# launcher installs its own handlers) starts the launcher, writes its pid, waits for it and
# writes its status; this script waits for the subshell.
d=$(mktemp -d "${TMPDIR:-/tmp}/clhsim-launch.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
launcher=${1##*/}
pid="" early="" requests=0
# shellcheck disable=SC2317 # called from the traps
request() {
  if [ -z "$pid" ]; then # still starting: stop it once its pid is known
    early=$1
    return
  fi
  requests=$((requests + 1))
  if [ "$requests" -gt 1 ]; then # mpiexec dies of a USR1 that comes while it shuts down
    [ "$requests" -eq 2 ] && echo "clhsim launch: received SIG$1 again: clhsim is already" \
      "stopping (it may be writing its checkpoint); waiting for it (if a request sent during" \
      "start-up was lost: kill -USR1 $pid; to abandon the run: kill -KILL its ranks)" >&2
    return
  fi
  echo "clhsim launch: received SIG$1: asking clhsim to checkpoint and stop" \
    "(SIGUSR1 to $launcher, pid $pid)" >&2
  kill -USR1 "$pid" 2> /dev/null
}
trap 'request TERM' TERM
trap 'request INT' INT
trap 'request HUP' HUP
trap 'request USR1' USR1
set -m # the subshell and the launcher get a process group of their own
(
  trap '' TERM INT HUP USR1 # never interrupted (the launcher resets them)
  "$@" < /dev/null &
  echo $! > "$d/pid"
  wait $!
  echo $? > "$d/status"
) &
sub=$!
set +m
until [ -s "$d/pid" ] || ! kill -0 "$sub" 2> /dev/null; do sleep 0.01; done
read -r pid < "$d/pid" 2> /dev/null
if [ -n "$early" ] && [ -n "$pid" ]; then
  # Nothing is computed yet, and the launcher may not handle USR1 yet: end it.
  echo "clhsim launch: received SIG$early while starting $launcher: stopping it" >&2
  kill -TERM "$pid" 2> /dev/null
fi
# A trapped signal interrupts wait: wait again while the subshell runs.
while kill -0 "$sub" 2> /dev/null; do
  wait "$sub"
  [ $? -eq 127 ] && break # not a child (any more)
done
trap '' TERM INT HUP USR1 # it has ended: later requests must not cut the reading short
status=""
read -r status < "$d/status" 2> /dev/null
exit "${status:-1}"
