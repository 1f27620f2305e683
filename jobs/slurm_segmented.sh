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

# Slurm's warning (USR1, from --signal=B:USR1@...) or a TERM reaches this shell only: ask
# clhsim to checkpoint and stop by sending USR1 to srun, which passes it to every rank.
PID=
# shellcheck disable=SC2317 # called from the traps
forward() {
  echo "clhsim: job $JOB received $1: asking clhsim to checkpoint and stop"
  [ -n "$PID" ] && kill -USR1 "$PID" 2> /dev/null
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM

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
srun --mpi=pmix --cpu-bind=cores "$CLHSIM" "${cmd[@]}" &
PID=$!
# A trapped signal interrupts wait (status > 128) while srun goes on: wait again.
status=0
wait "$PID" || status=$?
while [ "$status" -gt 128 ] && kill -0 "$PID" 2> /dev/null; do
  status=0
  wait "$PID" || status=$?
done
echo "clhsim: segment $SEGMENT (job $JOB): clhsim exit status $status"

if [ "$status" -ne 3 ]; then
  [ "$status" -eq 0 ] && echo "clhsim: run complete: $OUT"
  exit "$status" # 0: done; anything else: the job reads FAILED
fi

# Status 3: stopped early with a checkpoint. Chain the next segment.
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
