#!/usr/bin/env bash
# Stopping a run under mpiexec the way jobs/README.md ("Stopping a run: signals and launchers")
# prescribes (issue 10, item 4), on 2 ranks. Every stop must end with exit status 3, a usable
# checkpoint (`clhsim restart DIR` continues into the same output and the final /timeseries
# equals an uninterrupted run's, bit for bit) and no *.tmp file left anywhere:
#   (a) `kill -TERM` to jobs/launch.sh (what a scheduler's or a user's TERM to the job does),
#       sent while a periodic checkpoint is being written, then again every 20 ms until the
#       run has ended, so that later requests land in the stop checkpoint's write too;
#   (b) Ctrl-C: SIGINT to the process group of jobs/launch.sh (what a terminal sends to its
#       foreground job), timed and repeated the same way: mpiexec, in a group of its own,
#       must not get it (it would kill the ranks: TERM 1 s later, KILL 1 s after that);
#   (c) SIGINT straight to both ranks (what a Ctrl-C sends to a run without mpiexec, and srun
#       to its tasks on a double Ctrl-C), timed and repeated the same way: clhsim records it
#       like SIGTERM instead of dying.
# Nothing here depends on the machine's speed: each signal is sent when the test sees a
# checkpoint being written (a ckpt_*.tmp file), whenever that happens, and the runs are long
# (STEPS) compared with the few milliseconds a request takes to reach the ranks.
# usage: launcher_signals.sh CLHSIM PYTHON WORKDIR SOURCE_DIR
set -uo pipefail
bin=$(readlink -f "$1") py=$2 dir=$3 src=$(readlink -f "$4")
here=$(cd "$(dirname "$0")" && pwd)
launch=$src/jobs/launch.sh
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
STEPS=100 # the default scenario; checkpoints every 5 steps
common=(-P "run.steps=$STEPS" -P checkpoint.every=5 -P checkpoint.keep=2)
fail=0
t0=$(date +%s%N)
stamp() {
  local ds=$((($(date +%s%N) - t0) / 100000000))
  printf '[%3d.%d s] %s\n' $((ds / 10)) $((ds % 10)) "$*"
}
die() {
  echo "FAIL: $*"
  exit 1
}
check() { echo "FAIL: $*"; fail=1; }

# fire DIR SIGNAL TARGET...: wait until DIR holds a checkpoint being written (a ckpt_*.tmp of a
# step > 0: the folder's probe at step 0 is not a checkpoint), send SIGNAL to every TARGET (a
# pid, or -PGID for a process group), then send it again every 20 ms until a target has ended.
# Prints what it did; exits 1 if the run ended before any checkpoint was seen being written.
fire() {
  "$py" - "$@" << 'PY'
import os, re, signal, sys, time
d, sig, targets = sys.argv[1], getattr(signal, "SIG" + sys.argv[2]), [int(t) for t in sys.argv[3:]]
tmp = re.compile(r"^ckpt_(\d+)\..*\.tmp$")

def alive(t):  # a pid, or the leader of a process group; a zombie has ended
    try:
        with open(f"/proc/{abs(t)}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def writing():
    try:
        names = os.listdir(d)
    except OSError:
        return None
    for n in names:
        m = tmp.match(n)
        if m and int(m.group(1)) > 0:
            return n
    return None

name = None
while name is None:
    if not all(alive(t) for t in targets):
        print(f"fire: the run ended before a checkpoint was seen being written in {d}")
        sys.exit(1)
    name = writing()
    if name is None:
        time.sleep(0.001)
for t in targets:
    os.kill(t, sig)
during = os.path.exists(os.path.join(d, name))
print(f"fire: SIG{sys.argv[2]} sent while {name} was being written "
      f"({'still' if during else 'no longer'} being written right after)")
sent = 1
try:
    while all(alive(t) for t in targets):
        time.sleep(0.02)
        for t in targets:
            os.kill(t, sig)
        sent += 1
except ProcessLookupError:
    pass
print(f"fire: SIG{sys.argv[2]} sent {sent} times in all")
PY
}

# newgroup CMD...: run CMD as the leader of a new process group with SIGINT at its default,
# as an interactive shell starts a foreground job (a background job of this script would
# otherwise start with SIGINT ignored, which a shell cannot trap). Run it in the background:
# `newgroup CMD... &`, whose $! is then CMD's pid.
newgroup() {
  exec "$py" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setpgid(0, 0)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

# verify NAME STATUS: exit status 3, the stop said so, a checkpoint in ckNAME, no temporary
# file anywhere; then the restart (through the wrapper, into the same output) must finish and
# match the uninterrupted run.
verify() {
  local name=$1 st=$2 step latest
  [ "$st" -eq 3 ] || { cat "$name.log"; check "($name) exit status $st, expected 3"; return; }
  step=$(sed -n 's/^clhsim: stopping at step \([0-9]*\) on .*/\1/p' "$name.log")
  [ -n "$step" ] || { cat "$name.log"; check "($name) no stop message"; return; }
  latest=$(sed -n 's/^ckpt_\([0-9]*\)\.h5$/\1/p' "ck$name/latest" 2> /dev/null)
  [ "$((10#${latest:-0}))" -eq "$step" ] ||
    check "($name) latest names step ${latest:-none}, the run stopped at step $step"
  local left
  left=$(find . -name '*.tmp')
  [ -z "$left" ] || check "($name) temporary files left: $left"
  echo "($name) exit 3 at step $step: $(grep -m1 '^clhsim: stopping' "$name.log")"
  "$launch" mpiexec -n 2 --bind-to none "$bin" restart "ck$name" -P checkpoint.every=0 \
    > "$name.restart.log" 2>&1 ||
    { cat "$name.restart.log"; check "($name) restart from ck$name"; return; }
  "$py" "$here/compare_timeseries.py" ref.h5 "$name.h5" ||
    { check "($name) the restarted run differs from the uninterrupted one"; return; }
  left=$(find . -name '*.tmp')
  [ -z "$left" ] || check "($name) temporary files left after the restart: $left"
  stamp "($name) restarted from step $step; /timeseries identical to the uninterrupted run"
}

[ -x "$launch" ] || die "$launch: missing (the wrapper jobs/README.md prescribes for mpiexec)"

mpiexec -n 2 --bind-to none "$bin" run --quiet "${common[@]}" -P checkpoint.every=0 \
  -o ref.h5 > ref.log 2>&1 || { cat ref.log; die "uninterrupted run"; }
stamp "uninterrupted run: $STEPS steps"

# (a) TERM to the wrapper, during a checkpoint, and again and again until the run has ended.
newgroup "$launch" mpiexec -n 2 --bind-to none "$bin" run "${common[@]}" -P checkpoint.dir=cka \
  -o a.h5 > a.log 2>&1 &
pid=$!
fire cka TERM "$pid" || check "(a) no checkpoint seen being written"
wait "$pid"
st=$?
grep -q "received SIGTERM again" a.log || check "(a) the wrapper did not get repeated TERMs"
verify a "$st"

# (b) Ctrl-C: INT to the wrapper's process group, the same way.
newgroup "$launch" mpiexec -n 2 --bind-to none "$bin" run "${common[@]}" -P checkpoint.dir=ckb \
  -o b.h5 > b.log 2>&1 &
pid=$!
fire ckb INT "-$pid" || check "(b) no checkpoint seen being written"
wait "$pid"
st=$?
grep -q "received SIGINT" b.log || check "(b) the wrapper did not get the Ctrl-C"
verify b "$st"

# (c) INT straight to both ranks (no wrapper), the same way.
mpiexec -n 2 --bind-to none "$bin" run "${common[@]}" -P checkpoint.dir=ckc -o c.h5 > c.log 2>&1 &
pid=$!
ranks=()
while [ ${#ranks[@]} -lt 2 ] && kill -0 "$pid" 2> /dev/null; do
  mapfile -t ranks < <(pgrep -P "$pid")
  sleep 0.01
done
[ ${#ranks[@]} -eq 2 ] || die "(c) the ranks of mpiexec $pid were not found"
fire ckc INT "${ranks[@]}" || check "(c) no checkpoint seen being written"
wait "$pid"
st=$?
grep -q "stopping at step [0-9]* on SIGINT" c.log || check "(c) the stop message does not name SIGINT"
verify c "$st"

stamp "done"
exit $fail
