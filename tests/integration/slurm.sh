#!/usr/bin/env bash
# The job scripts in jobs/ under a real single-node Slurm that this test starts (munged,
# slurmctld, slurmd, all state in a temporary folder) and stops at the end, failed or not:
#   (a) jobs/slurm_hybrid.sh: a 2-rank run COMPLETED with one 2-rank MPI world and an output
#       that opens; a run that fails (bad input) reads FAILED with clhsim's exit status;
#   (b) jobs/slurm_segmented.sh: USR1 to the batch shell (what --signal=B:USR1@600 sends)
#       makes clhsim checkpoint and exit 3, the job submits the next segment with
#       --dependency=afterany, the chain finishes, and its /timeseries equals an
#       uninterrupted run's, bit for bit;
#   (c) where qsub (slurm-wlm-torque) is installed, the PBS scripts through it: pbs_hybrid.sh,
#       and pbs_segmented.sh: the first segment stops itself at run.max_wall_time (the
#       walltime less the margin: 1 s, so it stops after its first step whatever the machine's
#       speed), the second (CLHSIM_RESTART_ARGS="-P run.max_wall_time=0") finishes the run;
#   (d) jobs/submit_scaling.sh strong|weak 1: a JSON record per run;
#   (e) stop requests (jobs/README.md, "Stopping a run: signals and launchers"): a TERM to the
#       batch shell of slurm_hybrid.sh and of pbs_hybrid.sh (scancel -b -s TERM) reaches the
#       ranks (through srun, through mpirun): checkpoint, exit 3; a plain scancel of
#       slurm_segmented.sh (TERM to every process of the job) checkpoints, exits 3 and submits
#       no next segment; jobs/launch.sh srun, given a TERM, exits 3 with a checkpoint.
# Nothing waits for a fixed time: every wait ends when what it waits for happens (a job ends,
# a checkpoint appears); only the watchdog (CLHS_SLURM_TEST_LIMIT seconds, default 1500, for
# a hang: a normal run takes 1-2 minutes) bounds the whole test.
# usage: slurm.sh CLHSIM PYTHON WORKDIR SOURCE_DIR
# Exit 77 (CTest SKIP_RETURN_CODE) only when the Slurm or munge packages are not installed.
# shellcheck disable=SC2317 # cleanup and stop_pidfiles run from the EXIT trap
set -uo pipefail
bin=$1 py=$2 dir=$3 src=$4
export PATH=$PATH:/usr/sbin:/sbin
missing=()
for c in slurmctld slurmd sbatch squeue scontrol sinfo scancel munged munge; do
  command -v "$c" > /dev/null || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIP: not installed: ${missing[*]} (apt-get install slurmctld slurmd slurm-client munge)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL: this test starts slurmd and munged and must run as root (ctest -LE slurm skips it)"
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
bin=$(readlink -f "$bin")
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
t0=$(date +%s%N)
stamp() {
  local ds=$((($(date +%s%N) - t0) / 100000000))
  printf '[%3d.%d s] %s\n' $((ds / 10)) $((ds % 10)) "$*"
}
fail=0
T=$(mktemp -d /tmp/clhs-slurm.XXXXXX) || exit 1
chmod 755 "$T"
# The jobs' temporary files (Slurm's PMIx folders, Open MPI's session folders; named by job
# id) go under $T too, so that a concurrent instance of this test cannot collide with them.
mkdir -p "$T/tmp"
export TMPDIR=$T/tmp
# A watchdog against hangs only: end (and clean up) before CTest's TIMEOUT (1800 s) would kill
# this script and leave the daemons running. Far above a normal run (1-2 minutes), so that a
# loaded machine does not hit it.
limit=${CLHS_SLURM_TEST_LIMIT:-1500}
(
  trap 'kill $s 2> /dev/null; exit 0' TERM
  sleep "$limit" &
  s=$!
  wait $s
  echo "FAIL: watchdog: still running after $limit s (a hang?)"
  kill -TERM $$
) &
watchdog=$!

# ---- stop everything on any exit: jobs, then slurmd, slurmctld and munged by their pid files
stop_pidfiles() { # PIDFILE...: TERM, up to 10 s to stop, then KILL
  local f pid pids=()
  for f in "$@"; do
    pid=$(cat "$f" 2> /dev/null) || continue
    [ -n "$pid" ] && kill "$pid" 2> /dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || continue 2; sleep 0.1; done
    echo "pid $pid did not stop on TERM: KILL"
    kill -KILL "$pid" 2> /dev/null
  done
}
cleanup() {
  local st=$?
  trap - EXIT INT TERM
  kill "$watchdog" 2> /dev/null
  [ -n "${ref_pid:-}" ] && kill "$ref_pid" 2> /dev/null
  if [ -n "${SLURM_CONF:-}" ] && [ -e "$T/slurmctld.pid" ]; then
    local ids
    ids=$(squeue -h -o %i 2> /dev/null)
    if [ -n "$ids" ]; then
      echo "cancelling leftover jobs: $ids"
      # shellcheck disable=SC2086
      scancel $ids 2> /dev/null
      for _ in $(seq 50); do [ -z "$(squeue -h -o %i 2> /dev/null)" ] && break; sleep 0.2; done
    fi
  fi
  stop_pidfiles "$T/slurmd.pid" "$T/slurmctld.pid"
  stop_pidfiles "$T/munge/munged.pid"
  if [ "$st" -ne 0 ]; then
    mkdir -p "$dir/daemon-logs" && cp "$T"/*.log "$T"/munge/*.log "$dir/daemon-logs/" 2> /dev/null
    echo "daemon logs: $dir/daemon-logs"
  fi
  rm -rf "$T"
  stamp "daemons stopped; exit $st"
  exit "$st"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() { echo "FAIL: $*"; exit 1; }

# ---- munge: a private key and socket; munged runs as the munge user ----
mkdir -p "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$T/munge" && chmod 0755 "$T/munge" && chmod 0400 "$T/munge/munge.key"
sock=$T/munge/munge.socket
runuser -u munge -- munged --socket="$sock" --key-file="$T/munge/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" \
  --seed-file="$T/munge/munged.seed" || die "munged did not start"
munge -n -S "$sock" | unmunge -S "$sock" > /dev/null || die "munge credential round trip"

# ---- slurm.conf: this host, free ports, everything under $T ----
host=$(uname -n)
host=${host%%.*}
read -r p_ctld p_d < <("$py" -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" << EOF
ClusterName=clhstest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p_ctld
SlurmdPort=$p_d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
TmpFS=$T/tmp
FirstJobId=$(((RANDOM % 9000 + 1000) * 100))
PlugStackConfig=$T/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
KillWait=5
$(slurmd -C | head -n 1) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
: > "$T/plugstack.conf"
export SLURM_CONF=$T/slurm.conf
slurmctld || die "slurmctld did not start"
slurmd || die "slurmd did not start"
# Until the node is idle, however long that takes, while both daemons run.
until [ "$(sinfo -h -o %T 2> /dev/null)" = idle ]; do
  for f in slurmctld slurmd; do
    kill -0 "$(cat "$T/$f.pid" 2> /dev/null)" 2> /dev/null || { sinfo; die "$f stopped"; }
  done
  sleep 0.1
done
stamp "Slurm up: $(sinfo -h -o '%P %D %c %T')"

# ---- helpers ----
field() { scontrol -o show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ended() {
  case $1 in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) ;;
    *) return 1 ;;
  esac
}
# wait_job ID: wait until the job has ended, however long it runs (the watchdog is for hangs);
# print its state. A job that can never start (its dependency can never be satisfied) is
# reported at once as NEVER-STARTED.
wait_job() {
  local s
  while :; do
    s=$(field "$1" JobState)
    ended "$s" && { echo "$s"; return 0; }
    if [ "$s" = PENDING ] && [ "$(field "$1" Reason)" = DependencyNeverSatisfied ]; then
      echo NEVER-STARTED
      return 1
    fi
    sleep 0.2
  done
}
# wait_file ID FILE: wait until FILE exists (0) or job ID has ended without it (1).
wait_file() {
  until [ -e "$2" ]; do
    ended "$(field "$1" JobState)" && { [ -e "$2" ]; return; }
    sleep 0.05
  done
}
h5_check() { # FILE RANKS: /timeseries has records and /run says RANKS ranks
  "$py" - "$1" "$2" << 'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    n = f["timeseries/time"].shape[0]
    ranks = int(f["run"].attrs["ranks"])
    assert n > 1, f"{n} records"
    assert ranks == int(sys.argv[2]), f"/run ranks = {ranks}, expected {sys.argv[2]}"
    print(f"{sys.argv[1]}: {n} records, {ranks} ranks")
PY
}

# follow_chain FIRST MAX: wait for each segment of a chain (its log names the next), print
# its log; every segment must end COMPLETED, the last with "run complete". Sets $segments.
follow_chain() {
  local id=$1 seg=1 state log next
  segments=0
  while [ -n "$id" ]; do
    state=$(wait_job "$id")
    log=$(field "$id" StdOut)
    stamp "segment $seg (job $id): $state, ExitCode=$(field "$id" ExitCode)"
    grep -v '^  *step ' "$log" | sed 's/^/    | /'
    [ "$state" = COMPLETED ] || die "segment $seg (job $id) ended $state"
    next=$(sed -n 's/^clhsim: submitted segment [0-9]* as job \([0-9]*\)[ .].*/\1/p' "$log")
    if [ -n "$next" ]; then
      grep -q "clhsim exit status 3" "$log" || die "segment $seg chained without exit status 3"
      grep -q "(afterany:$id)" "$log" || die "segment $seg submitted no afterany:$id dependant"
      # afterany: the next segment was submitted while this one ran and started after it ended.
      wait_job "$next" > /dev/null
      local e1 s2 b2
      e1=$(field "$id" EndTime) s2=$(field "$next" SubmitTime) b2=$(field "$next" StartTime)
      echo "    ended $e1; segment $((seg + 1)) submitted $s2, started $b2"
      [[ ! $s2 > $e1 && ! $b2 < $e1 ]] || die "segment $((seg + 1)) did not wait for segment $seg"
      grep -q "^clhsim: segment $((seg + 1)) (job $next): restart from" "$(field "$next" StdOut)" ||
        die "segment $((seg + 1)) did not restart from the checkpoint"
    else
      grep -q "^clhsim: run complete" "$log" || die "the last segment did not complete"
    fi
    segments=$seg
    [ -z "$next" ] || [ "$seg" -lt "$2" ] || die "more than $2 segments"
    id=$next
    seg=$((seg + 1))
  done
}
restarted_check() { # OUT CKPT: a restarted run, not a fork
  "$py" - "$1" "$2" << 'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    r = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["run"].attrs.items()}
    assert sys.argv[2] in str(r.get("restarted_from", "")), r.get("restarted_from")
    assert r.get("forked") == "no", r.get("forked")
    print(f"{sys.argv[1]}: restarted from {r['restarted_from']}, not a fork")
PY
}
# reference STEPS OUT: an uninterrupted run on one rank, in the background ($ref_pid)
reference() {
  OMP_NUM_THREADS=1 mpiexec -n 1 --bind-to none "$bin" run --quiet -P run.steps="$1" \
    -o "$2" > "$2.log" 2>&1 &
  ref_pid=$!
}
reference_wait() {
  wait "$ref_pid" || { cat "$1.log"; die "reference run $1"; }
  ref_pid=
}

# ---- (a) the hybrid job: COMPLETED, one 2-rank world, an output that opens ----
reference 400 ref400.h5 # for (b) and (c), meanwhile
export CLHSIM=$bin
id=$(CLHSIM_OUT=hybrid.h5 sbatch --parsable "$src/jobs/slurm_hybrid.sh" \
  "$src/examples/cross_rank_ties.yml" -P run.steps=20) || die "sbatch slurm_hybrid.sh"
state=$(wait_job "$id")
stamp "hybrid job $id: $state, ExitCode=$(field "$id" ExitCode)"
if [ "$state" != COMPLETED ] || ! h5_check hybrid.h5 2; then
  cat "clhsim-$id.out"
  fail=1
fi
# A failing run (bad input: exit status 2) must not read COMPLETED.
id=$(CLHSIM_OUT=bad.h5 sbatch --parsable "$src/jobs/slurm_hybrid.sh" -P run.no_such_key=1) ||
  die "sbatch slurm_hybrid.sh (bad input)"
state=$(wait_job "$id")
code=$(field "$id" ExitCode)
stamp "failing hybrid job $id: $state, ExitCode=$code"
if [ "$state" != FAILED ] || [ "$code" != 2:0 ]; then
  cat "clhsim-$id.out"
  echo "FAIL: a run that exits 2 reads $state ($code), expected FAILED (2:0)"
  fail=1
fi
reference_wait ref400.h5
stamp "reference run (400 steps) done"

# ---- (b) the segmented run, warned with USR1 as --signal=B:USR1@600 would ----
first=$(CLHSIM_CKPT=seg_ck CLHSIM_OUT=seg.h5 sbatch --parsable "$src/jobs/slurm_segmented.sh" \
  -P run.steps=400 -P checkpoint.every=10) || die "sbatch slurm_segmented.sh"
# Warn the batch shell once clhsim has written its first checkpoint (it has installed its
# handlers, and 390 of its 400 steps are still to run).
wait_file "$first" seg_ck/latest || {
  cat "clhsim-seg-$first.out" 2> /dev/null
  die "segment 1 (job $first: $(field "$first" JobState)) wrote no checkpoint"
}
scancel --signal=USR1 --batch "$first" || die "scancel --signal=USR1 --batch $first"
stamp "segment 1 (job $first): sent USR1 to the batch shell"
follow_chain "$first" 2
[ "$segments" -eq 2 ] || die "$segments segment(s), expected 2"
grep -q "received USR1" "clhsim-seg-$first.out" || die "the batch shell did not get USR1"
"$py" "$here/compare_timeseries.py" ref400.h5 seg.h5 || fail=1
restarted_check seg.h5 seg_ck || fail=1

# ---- (c) PBS scripts through Slurm's qsub wrapper (slurm-wlm-torque), where installed:
# pbs_hybrid.sh, and pbs_segmented.sh with a walltime of 2 s less a 1 s margin: the first
# segment gets run.max_wall_time = 1 s, which is less than clhsim's own margin (at least 1 s),
# so it stops after its first step on any machine; the second segment restarts without the
# limit and finishes (qsub -W depend=afterany). mpirun's kill delay is 1 s here (the scripts'
# 10 s would add 20 s to each exit with status 3) ----
if ! command -v qsub > /dev/null; then
  echo "qsub (slurm-wlm-torque) not installed: PBS scripts not run"
else
  id=$(CLHSIM_OUT=pbs.h5 qsub -V "$src/jobs/pbs_hybrid.sh" "$src/examples/cross_rank_ties.yml" \
    -P run.steps=20) || die "qsub pbs_hybrid.sh"
  state=$(wait_job "$id")
  stamp "pbs_hybrid job $id: $state, ExitCode=$(field "$id" ExitCode)"
  if [ "$state" != COMPLETED ] || ! h5_check pbs.h5 2; then
    cat "$(field "$id" StdOut)"
    fail=1
  fi
  id=$(CLHSIM_CKPT=pbs_ck CLHSIM_OUT=pbs_seg.h5 CLHSIM_WALLTIME=2 CLHSIM_MARGIN=1 \
    CLHSIM_RESTART_ARGS="-P run.max_wall_time=0" CLHSIM_MAX_SEGMENTS=3 \
    OMPI_MCA_odls_base_sigkill_timeout=1 qsub -V "$src/jobs/pbs_segmented.sh" -P run.steps=400) ||
    die "qsub pbs_segmented.sh"
  follow_chain "$id" 2
  [ "$segments" -eq 2 ] || die "the PBS chain had $segments segment(s), expected 2"
  log=$(field "$id" StdOut)
  grep -q "run .*-P run.max_wall_time=1 " "$log" || die "segment 1 did not get run.max_wall_time=1"
  grep -q "stopping at step 1 on the wall-time limit" "$log" ||
    die "segment 1 did not stop at step 1 on the wall-time limit"
  "$py" "$here/compare_timeseries.py" ref400.h5 pbs_seg.h5 || fail=1
  restarted_check pbs_seg.h5 pbs_ck || fail=1
fi

# ---- (d) a scaling study's submission (one node here, tiny): one JSON record per run ----
export CLHSIM_AGENTS=2e4 CLHSIM_AGENTS_PER_RANK=1e4 CLHSIM_STEPS=5 CLHSIM_RESULTS=$dir/scaling
export CLHSIM_PYTHON=$py
for study in strong weak; do
  "$src/jobs/submit_scaling.sh" $study 1 > "submit_$study.log" || die "submit_scaling.sh $study"
done
for study in strong weak; do
  id=$(sed -n 's/.*: job \([0-9]*\)$/\1/p' "submit_$study.log")
  state=$(wait_job "$id")
  stamp "$study scaling job $id: $state"
  if [ "$state" != COMPLETED ] || [ ! -s "scaling/${study}_1n_2x1_$id.json" ]; then
    cat "$(field "$id" StdOut)"
    die "$study scaling: no record"
  fi
done
"$py" "$src/jobs/scaling.py" summary scaling || fail=1
unset CLHSIM_AGENTS CLHSIM_AGENTS_PER_RANK CLHSIM_STEPS CLHSIM_RESULTS

# ---- (e) stop requests (jobs/README.md, "Stopping a run: signals and launchers") ----
# Runs of 2000 steps, asked to stop once their first checkpoint (step 10) is written: they stop
# within a few steps (1990 steps take several seconds even on a fast machine; the request
# arrives in milliseconds); a script that does not forward the request lets them finish.
long=(-P run.steps=2000 -P checkpoint.every=10)
# stopped NAME ID|- LOG: exit status 3 after "stopping at step", with a checkpoint in
# NAME_ck/latest at that step and no temporary file anywhere.
stopped() {
  local name=$1 id=$2 log=$3 step latest left code
  step=$(sed -n 's/^clhsim: stopping at step \([0-9]*\) on .*/\1/p' "$log")
  latest=$(sed -n 's/^ckpt_\([0-9]*\)\.h5$/\1/p' "${name}_ck/latest" 2> /dev/null)
  left=$(find . -name '*.tmp')
  if [ "$id" != - ]; then
    code=$(field "$id" ExitCode)
    [ "$code" = 3:0 ] || { cat "$log"; check "$name: ExitCode $code, expected 3:0"; return 1; }
  fi
  [ -n "$step" ] || { cat "$log"; check "$name: clhsim did not stop"; return 1; }
  [ "$((10#${latest:-0}))" -eq "$step" ] ||
    { check "$name: latest names step ${latest:-none}, clhsim stopped at step $step"; return 1; }
  [ -z "$left" ] || { check "$name: temporary files left: $left"; return 1; }
  echo "    $name: $(grep -m1 '^clhsim: stopping' "$log"), checkpoint $(head -n1 "${name}_ck/latest")"
}
check() { echo "FAIL: $*"; fail=1; }
# A TERM to the batch shell of slurm_hybrid.sh: forwarded to srun as USR1.
id=$(CLHSIM_OUT=stop_hyb.h5 sbatch --parsable "$src/jobs/slurm_hybrid.sh" "${long[@]}" \
  -P checkpoint.dir=stop_hyb_ck) || die "sbatch slurm_hybrid.sh (stop)"
wait_file "$id" stop_hyb_ck/latest || check "stop_hyb: no first checkpoint"
scancel -b -s TERM "$id"
state=$(wait_job "$id")
stamp "slurm_hybrid.sh job $id, TERM to its batch shell: $state, ExitCode=$(field "$id" ExitCode)"
grep -q "received TERM" "clhsim-$id.out" || check "stop_hyb: the batch shell did not get the TERM"
stopped stop_hyb "$id" "clhsim-$id.out"
# A plain scancel of slurm_segmented.sh (TERM to every process of the job): a checkpoint, exit
# status 3, and no next segment.
id=$(CLHSIM_CKPT=stop_seg_ck CLHSIM_OUT=stop_seg.h5 sbatch --parsable \
  "$src/jobs/slurm_segmented.sh" "${long[@]}") || die "sbatch slurm_segmented.sh (stop)"
wait_file "$id" stop_seg_ck/latest || check "stop_seg: no first checkpoint"
scancel "$id"
state=$(wait_job "$id")
log=$(field "$id" StdOut)
stamp "slurm_segmented.sh job $id, scancel: $state, ExitCode=$(field "$id" ExitCode)"
grep -v '^  *step ' "$log" | sed 's/^/    | /'
stopped stop_seg "$id" "$log"
grep -q "not submitting another segment" "$log" || check "stop_seg: no 'not submitting' message"
! grep -q "submitted segment" "$log" || check "stop_seg: a scancel submitted a next segment"
# jobs/launch.sh srun (outside a batch job), given a TERM.
"$src/jobs/launch.sh" srun --mpi=pmix -n 2 "$bin" run "${long[@]}" -P checkpoint.dir=stop_srun_ck \
  -o stop_srun.h5 > stop_srun.log 2>&1 &
pid=$!
until [ -e stop_srun_ck/latest ] || ! kill -0 "$pid" 2> /dev/null; do sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
st=$?
stamp "jobs/launch.sh srun, TERM: exit status $st"
[ "$st" -eq 3 ] || { cat stop_srun.log; check "stop_srun: exit status $st, expected 3"; }
stopped stop_srun - stop_srun.log
# A TERM to the batch shell of pbs_hybrid.sh: forwarded to mpirun as USR1.
if command -v qsub > /dev/null; then
  id=$(CLHSIM_OUT=stop_pbs.h5 OMPI_MCA_odls_base_sigkill_timeout=1 qsub -V \
    "$src/jobs/pbs_hybrid.sh" "${long[@]}" -P checkpoint.dir=stop_pbs_ck) ||
    die "qsub pbs_hybrid.sh (stop)"
  wait_file "$id" stop_pbs_ck/latest || check "stop_pbs: no first checkpoint"
  scancel -b -s TERM "$id"
  state=$(wait_job "$id")
  log=$(field "$id" StdOut)
  stamp "pbs_hybrid.sh job $id, TERM to its batch shell: $state, ExitCode=$(field "$id" ExitCode)"
  grep -q "received TERM" "$log" || check "stop_pbs: the batch shell did not get the TERM"
  stopped stop_pbs "$id" "$log"
fi
stamp "done"
exit $fail
