#!/bin/bash
# A hybrid MPI + OpenMP clhsim run under Slurm.
#   sbatch jobs/slurm_hybrid.sh CONFIG.yml [more clhsim run arguments: -P key=value ...]
# Environment (optional): CLHSIM, the program (default build/release/clhsim); CLHSIM_OUT, the
# output file (default clhsim-JOBID.h5 in the submission folder).
# Adapt to your site (jobs/README.md): partition, account, modules, nodes, tasks per node,
# cpus per task (= OpenMP threads per rank).
#SBATCH --job-name=clhsim
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --output=clhsim-%j.out
##SBATCH --partition=compute
##SBATCH --account=myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml   # site-specific

cd "${SLURM_SUBMIT_DIR:-.}" || exit 1
CLHSIM=${CLHSIM:-build/release/clhsim}
OUT=${CLHSIM_OUT:-clhsim-${SLURM_JOB_ID:-local}.h5}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_PLACES=cores OMP_PROC_BIND=close
# Since Slurm 22.05 srun does not inherit --cpus-per-task.
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1}
# Some parallel file systems do not support HDF5's file locking.
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

# Stop requests (jobs/README.md, "Stopping a run: signals and launchers"): a TERM, INT or USR1
# to this shell (scancel -b -s TERM, --signal=B:USR1@T) becomes one SIGUSR1 to srun, which
# passes it to every rank: clhsim writes a checkpoint (checkpoint.dir) and exits 3.
JOB=${SLURM_JOB_ID:-local}
# The launcher runs in the background (a trap would wait for a foreground command to end),
# started by a subshell that ignores TERM, INT, HUP and USR1 (so that its wait is never
# interrupted), waits for it and writes its exit status to a file: bash's wait, interrupted
# by a trapped signal just as the launcher ends, can return 128 + the signal (or -1) instead.
tmpd=$(mktemp -d "${TMPDIR:-/tmp}/clhsim-job.XXXXXX") || exit 1
trap 'rm -rf "$tmpd"' EXIT
PID="" early="" forwarded=0
# shellcheck disable=SC2317 # called from the traps
forward() {
  if [ -z "$PID" ]; then # still starting: stopped as soon as its pid is known
    early=$1
    return
  fi
  if [ "$forwarded" -eq 1 ]; then # once: a launcher dies of a USR1 that comes as it ends
    echo "clhsim: job $JOB received $1: already stopping"
    return
  fi
  forwarded=1
  echo "clhsim: job $JOB received $1: asking clhsim to checkpoint and stop"
  kill -USR1 "$PID" 2> /dev/null
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward USR1' USR1
# launch CMD...: run the launcher CMD as above; its exit status in $status.
launch() {
  local sub
  (
    trap '' TERM INT HUP USR1 # never interrupted (the launcher resets them)
    "$@" < /dev/null &
    echo $! > "$tmpd/pid"
    wait $!
    echo $? > "$tmpd/status"
  ) &
  sub=$!
  until [ -s "$tmpd/pid" ] || ! kill -0 "$sub" 2> /dev/null; do sleep 0.01; done
  read -r PID < "$tmpd/pid" 2> /dev/null
  if [ -n "$early" ] && [ -n "$PID" ]; then # nothing computed yet; USR1 may not be handled yet
    echo "clhsim: job $JOB received $early while starting: stopping"
    kill -TERM "$PID" 2> /dev/null
  fi
  while kill -0 "$sub" 2> /dev/null; do
    wait "$sub"
    [ $? -eq 127 ] && break # not a child (any more)
  done
  trap '' TERM INT USR1 # it has ended: later requests must not cut the reading short
  status=""
  read -r status < "$tmpd/status" 2> /dev/null
  status=${status:-1}
}

echo "clhsim: job $JOB: ${SLURM_NTASKS:-?} rank(s) x ${OMP_NUM_THREADS} thread(s) on ${SLURM_JOB_NODELIST:-?}"
launch srun --mpi=pmix --cpu-bind=cores "$CLHSIM" run "$@" -o "$OUT"
echo "clhsim: exit status $status"
# The job's state follows the script's status: without this a failed run reads COMPLETED.
exit "$status"
