#!/bin/bash
# A hybrid MPI + OpenMP clhsim run under PBS Pro / OpenPBS.
#   qsub -v CONFIG=my.yml,CLHSIM_ARGS="-P run.seed=7" jobs/pbs_hybrid.sh
# (PBS passes no arguments to a job script: the configuration comes in the environment.
# Where the script does get arguments, e.g. Slurm's qsub wrapper, they are used too.)
# Environment (optional): CONFIG, a configuration file; CLHSIM_ARGS, more clhsim run arguments
# (words; a value with commas cannot travel in qsub -v: put it in the configuration file);
# CLHSIM, the program (default build/release/clhsim); CLHSIM_OUT, the output file (default
# clhsim-JOBID.h5 in the submission folder).
# select=N chunks (one per node) of ncpus=C cores, mpiprocs=R ranks and ompthreads=T threads
# per rank, with C = R x T. Adapt to your site (jobs/README.md): queue, project, modules.
#PBS -N clhsim
#PBS -l select=1:ncpus=2:mpiprocs=2:ompthreads=1
#PBS -l walltime=01:00:00
#PBS -j oe
##PBS -q workq
##PBS -A myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml   # site-specific

# PBS_O_WORKDIR: where qsub ran (Slurm's qsub wrapper sets SLURM_SUBMIT_DIR instead).
cd "${PBS_O_WORKDIR:-${SLURM_SUBMIT_DIR:-.}}" || exit 1
CLHSIM=${CLHSIM:-build/release/clhsim}
JOB=${PBS_JOBID:-${SLURM_JOB_ID:-local}}
OUT=${CLHSIM_OUT:-clhsim-${JOB%%.*}.h5}
# Ranks and nodes from the allocation: PBS lists each node once per MPI process (mpiprocs).
if [ -n "${PBS_NODEFILE:-}" ] && [ -r "$PBS_NODEFILE" ]; then
  ranks=$(wc -l < "$PBS_NODEFILE")
  nodes=$(sort -u "$PBS_NODEFILE" | wc -l)
  threads=${OMP_NUM_THREADS:-1} # PBS sets it from ompthreads
else
  ranks=${SLURM_NTASKS:-1}
  nodes=${SLURM_JOB_NUM_NODES:-1}
  threads=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}
fi
per_node=$((ranks / nodes))
export OMP_NUM_THREADS=$threads OMP_PLACES=cores OMP_PROC_BIND=close
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

args=(${CONFIG:+"$CONFIG"} "$@")
# shellcheck disable=SC2206 # CLHSIM_ARGS is a list of words
args+=(${CLHSIM_ARGS:-})
# Stop requests (jobs/README.md, "Stopping a run: signals and launchers"): a TERM, INT or USR1
# to this shell (qsig -s USR1) becomes one SIGUSR1 to mpirun, which passes it to every rank:
# clhsim writes a checkpoint (checkpoint.dir) and exits 3. Where PBS signals every process
# (qdel, the walltime) mpirun gets the TERM itself and kills the job: the ranks, which get it
# too, then have odls_base_sigkill_timeout seconds until mpirun's TERM and as many again until
# its KILL (10 s here; an exit with status 3 then takes twice that longer; PBS's own KILL
# comes kill_delay seconds after its TERM).
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-10}
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

echo "clhsim: job $JOB: $ranks rank(s) ($per_node per node) x $threads thread(s)"
# ppr:R:node:PE=T puts R ranks on each node and gives each T cores to bind its threads to.
launch mpirun -n "$ranks" --map-by "ppr:$per_node:node:PE=$threads" --bind-to core \
  "$CLHSIM" run "${args[@]}" -o "$OUT"
echo "clhsim: exit status $status"
exit "$status" # the job's exit status is the run's
