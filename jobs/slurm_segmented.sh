#!/bin/bash
# A long clhsim run split into segments: each job runs until Slurm's warning before its time
# limit, clhsim writes a checkpoint and exits with status 3, and the job submits the next
# segment (afterany: it starts when this one has ended), which restarts from the checkpoint.
#   sbatch jobs/slurm_segmented.sh CONFIG.yml [more clhsim run arguments: -P key=value ...]
# The configuration and -P arguments are used by the first segment; later segments continue
# with the configuration stored in the checkpoint (clhsim restart refuses structure changes).
# Environment (optional; it travels to every segment):
#   CLHSIM               the program (default build/release/clhsim)
#   CLHSIM_CKPT          checkpoint folder (default checkpoints); if it holds a `latest`
#                        file the job restarts from it, so resubmitting the same command
#                        continues an interrupted chain: use a new folder for a new run
#   CLHSIM_OUT           output file (default clhsim.h5)
#   CLHSIM_RESTART_ARGS  extra arguments for the restarts, e.g. "-P run.steps=5200"
#   CLHSIM_MAX_SEGMENTS  stop chaining after this many segments (default 100)
#   CLHSIM_SEGMENT_SCRIPT  the script the next segment runs (default: this job's copy of it)
# Sizing options given to sbatch on the command line (nodes, tasks, cpus per task, time,
# partition, account) are carried to the next segment; others belong in #SBATCH lines.
# Adapt to your site (jobs/README.md). --signal: USR1 to the batch shell (B:) 600 s before the
# time limit; allow for one step plus one checkpoint write of your largest run.
# Stopping by hand: `scancel -b -s USR1 JOB` checkpoints and continues in a next segment;
# `scancel JOB` (or `scancel -b -s TERM JOB`) checkpoints and ends the chain (status 3; resubmit
# the same command to continue); jobs/README.md, "Stopping a run: signals and launchers".
#SBATCH --job-name=clhsim-seg
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
#SBATCH --time=12:00:00
#SBATCH --signal=B:USR1@600
#SBATCH --output=clhsim-seg-%j.out
##SBATCH --partition=compute
##SBATCH --account=myproject

set -uo pipefail
# module load gcc openmpi hdf5/parallel libyaml   # site-specific

cd "${SLURM_SUBMIT_DIR:-.}" || exit 1
CLHSIM=${CLHSIM:-build/release/clhsim}
CKPT=${CLHSIM_CKPT:-checkpoints}
OUT=${CLHSIM_OUT:-clhsim.h5}
SEGMENT=${CLHSIM_SEGMENT:-1}
MAX_SEGMENTS=${CLHSIM_MAX_SEGMENTS:-100}
JOB=${SLURM_JOB_ID:-local}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_PLACES=cores OMP_PROC_BIND=close
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1} # Slurm >= 22.05: srun does not inherit it
export HDF5_USE_FILE_LOCKING=${HDF5_USE_FILE_LOCKING:-FALSE}

# Stop requests (jobs/README.md, "Stopping a run: signals and launchers"): Slurm's warning
# (USR1, from --signal=B:USR1@...), or a TERM or INT, reaches this shell only; it asks clhsim
# to checkpoint and stop by sending one USR1 to srun, which passes it to every rank. A USR1 is
# "stop now, continue in the next segment"; a TERM or INT not preceded by a USR1 (scancel,
# scancel -b -s TERM) is "stop": clhsim still checkpoints and exits 3, but no next segment is
# submitted (resubmit the same command to continue).
warned=0 stop_chain=0
# The launcher runs in the background (a trap would wait for a foreground command to end),
# started by a subshell that ignores TERM, INT, HUP and USR1 (so that its wait is never
# interrupted), waits for it and writes its exit status to a file: bash's wait, interrupted
# by a trapped signal just as the launcher ends, can return 128 + the signal (or -1) instead.
tmpd=$(mktemp -d "${TMPDIR:-/tmp}/clhsim-job.XXXXXX") || exit 1
trap 'rm -rf "$tmpd"' EXIT
PID="" early="" forwarded=0
# shellcheck disable=SC2317 # called from the traps
forward() {
  if [ "$1" = USR1 ]; then
    warned=1
  elif [ "$warned" -eq 0 ]; then
    stop_chain=1
  fi
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

args=("$@") # this submission's arguments, for the next segment
if [ -f "$CKPT/latest" ]; then
  echo "clhsim: segment $SEGMENT (job $JOB): restart from $CKPT/$(cat "$CKPT/latest")"
  # shellcheck disable=SC2206 # CLHSIM_RESTART_ARGS is a list of words
  cmd=(restart "$CKPT" ${CLHSIM_RESTART_ARGS:-} -o "$OUT")
else
  echo "clhsim: segment $SEGMENT (job $JOB): run $*"
  cmd=(run "$@" -P checkpoint.dir="$CKPT" -o "$OUT")
fi

echo "clhsim: ${SLURM_NTASKS:-?} rank(s) x $OMP_NUM_THREADS thread(s) on ${SLURM_JOB_NODELIST:-?}"
launch srun --mpi=pmix --cpu-bind=cores "$CLHSIM" "${cmd[@]}"
echo "clhsim: segment $SEGMENT (job $JOB): clhsim exit status $status"

if [ "$status" -ne 3 ]; then
  [ "$status" -eq 0 ] && echo "clhsim: run complete: $OUT"
  exit "$status" # 0: done; anything else: the job reads FAILED
fi

# Status 3: stopped early with a checkpoint. Chain the next segment, unless told to stop.
if [ "$stop_chain" -eq 1 ]; then
  echo "clhsim: stopped on request: not submitting another segment; resubmit the same command to continue"
  exit 3
fi
if [ "$SEGMENT" -ge "$MAX_SEGMENTS" ]; then
  echo "clhsim: $SEGMENT segments (CLHSIM_MAX_SEGMENTS): not submitting another" >&2
  exit 3
fi
opts=(--parsable --dependency="afterany:$JOB" --job-name="${SLURM_JOB_NAME:-clhsim-seg}"
  --export="ALL,CLHSIM_SEGMENT=$((SEGMENT + 1))")
[ -n "${SLURM_JOB_NUM_NODES:-}" ] && opts+=(--nodes="$SLURM_JOB_NUM_NODES")
if [ -n "${SLURM_NTASKS_PER_NODE:-}" ]; then
  opts+=(--ntasks-per-node="$SLURM_NTASKS_PER_NODE")
elif [ -n "${SLURM_NTASKS:-}" ]; then
  opts+=(--ntasks="$SLURM_NTASKS")
fi
[ -n "${SLURM_CPUS_PER_TASK:-}" ] && opts+=(--cpus-per-task="$SLURM_CPUS_PER_TASK")
[ -n "${SLURM_JOB_PARTITION:-}" ] && opts+=(--partition="$SLURM_JOB_PARTITION")
[ -n "${SLURM_JOB_ACCOUNT:-}" ] && opts+=(--account="$SLURM_JOB_ACCOUNT")
limit=$(squeue -h -j "$JOB" -o %l 2> /dev/null)
case $limit in "" | UNLIMITED | INVALID | NOT_SET) ;; *) opts+=(--time="$limit") ;; esac
if next=$(sbatch "${opts[@]}" "${CLHSIM_SEGMENT_SCRIPT:-$0}" "${args[@]}"); then
  echo "clhsim: submitted segment $((SEGMENT + 1)) as job ${next%%;*} (afterany:$JOB)"
  exit 0
fi
echo "clhsim: could not submit the next segment; resubmit the same command to continue" >&2
exit 3
