#!/usr/bin/env bash
# A run owns its files (issue 10): outputs, checkpoint folders, snapshots, early errors and a
# full disk, on the clhsim program under mpiexec (1 and 2 ranks). No case depends on the
# machine's speed: long runs are stopped by the stop file the test creates, not by time.
# usage: files_owned.sh CASE CLHSIM PYTHON WORKDIR CONFIG
#   CASE: output | folders | snapshot | early | diskfull
set -uo pipefail
case_=$1 bin=$2 py=$3 dir=$4 cfg=$5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
fail=0
die() {
  echo "FAIL: $*"
  exit 1
}
bad() {
  echo "FAIL: $*"
  fail=1
}
ok() { echo "ok   $*"; }
# run RANKS args...   (returns clhsim's status; a hang is status 124)
run() {
  local r=$1
  shift
  timeout 300 mpiexec -n "$r" --bind-to none "$bin" "$@"
}
# expect STATUS NAME PATTERN -- RANKS args...: the status and a message containing PATTERN
expect() {
  local want=$1 name=$2 pat=$3
  shift 4
  run "$@" > "$name.out" 2> "$name.err"
  local st=$?
  if [ "$st" -ne "$want" ]; then
    bad "$name: status $st, expected $want"
    cat "$name.err"
    return 1
  fi
  if [ -n "$pat" ] && ! grep -qF -- "$pat" "$name.err" "$name.out"; then
    bad "$name: the message lacks '$pat'"
    cat "$name.err"
    return 1
  fi
  ok "$name: $(grep -m1 -h 'error\|warning' "$name.err" | head -c 240)"
}
wait_for() { for _ in $(seq 1 2400); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
attr() { # attr FILE GROUP NAME -> the attribute as text
  "$py" -c "
import sys, h5py
with h5py.File(sys.argv[1], 'r') as f:
    v = f[sys.argv[2]].attrs[sys.argv[3]]
    print(v.decode() if isinstance(v, bytes) else v)
" "$@"
}
same() { "$py" "$here/compare_timeseries.py" "$1" "$2" > /dev/null || bad "$1 and $2 differ"; }
tree_sum() { (cd "$1" && find . -type f | sort | xargs md5sum); }

case $case_ in
output)
  # 1. Two runs started together on one output: one is refused (status 2, naming the other
  # run), the other writes a consistent file (its own /parameters and /run).
  for r in 1 2; do
    rm -rf same.h5 c1 c2 clhsim.stop
    run "$r" run "$cfg" -P run.steps=100000 -P run.seed=1 -P checkpoint.dir=c1 -o same.h5 \
      > a.out 2> a.err &
    pa=$!
    run "$r" run "$cfg" -P run.steps=100000 -P run.seed=2 -P checkpoint.dir=c2 -o same.h5 \
      > b.out 2> b.err &
    pb=$!
    # The loser ends by itself; the winner is stopped with the stop file once both started.
    for _ in $(seq 1 2400); do
      kill -0 $pa 2> /dev/null && kill -0 $pb 2> /dev/null || break
      sleep 0.05
    done
    wait_for same.h5.lock || bad "no lock file"
    touch clhsim.stop
    wait $pa
    sa=$?
    wait $pb
    sb=$?
    rm -f clhsim.stop
    if [ $sa -eq 2 ] && [ $sb -eq 3 ]; then
      loser=a seed=2
    elif [ $sb -eq 2 ] && [ $sa -eq 3 ]; then
      loser=b seed=1
    else
      bad "concurrent runs on $r rank(s): statuses $sa and $sb, expected 2 and 3"
      cat a.err b.err
      continue
    fi
    grep -q "being written by another clhsim run" $loser.err || bad "unclear refusal: $(cat $loser.err)"
    [ "$(attr same.h5 /run seed)" = $seed ] || bad "/run seed is not the winner's"
    yaml=$(attr same.h5 /parameters yaml)
    grep -q "seed: $seed" <<< "$yaml" || bad "/parameters is not the winner's"
    [ ! -e same.h5.lock ] || bad "the lock file was left behind"
    ls same.h5.*.tmp 2> /dev/null && bad "temporary files left behind"
    ok "two runs on one output ($r rank(s)): one refused, the file is the other's alone"
  done
  # An existing output of another run is kept (status 2), unless --overwrite.
  run 1 run "$cfg" -P run.steps=5 -P checkpoint.dir=c3 -o out.h5 > /dev/null || die "base run"
  before=$(md5sum < out.h5)
  expect 2 exists "--overwrite" -- 2 run "$cfg" -P run.steps=5 -P checkpoint.dir=c3 -o out.h5
  [ "$(md5sum < out.h5)" = "$before" ] || bad "an existing output was changed"
  id1=$(attr out.h5 / run_id)
  run 2 run "$cfg" -P run.steps=5 -P checkpoint.dir=c3 -o out.h5 --overwrite > /dev/null ||
    bad "--overwrite refused"
  [ "$(attr out.h5 / run_id)" != "$id1" ] || bad "--overwrite did not replace the output"
  # Never the run's own inputs, links or devices, even with --overwrite.
  cp "$cfg" my.yml
  before=$(md5sum < my.yml)
  expect 2 own_config "one of this run's inputs" -- 1 run my.yml -P run.steps=5 -o my.yml --overwrite
  [ "$(md5sum < my.yml)" = "$before" ] || bad "the configuration was overwritten"
  ln -sf out.h5 link.h5
  expect 2 symlink "symbolic link" -- 2 run "$cfg" -P run.steps=5 -o link.h5 --overwrite
  [ -L link.h5 ] || bad "the link was replaced"
  if [ "$(id -u)" -eq 0 ] && [ -c /dev/null ]; then
    expect 2 devnull "character device" -- 1 run "$cfg" -P run.steps=5 -o /dev/null --overwrite
    [ -c /dev/null ] || die "/dev/null is no longer a device"
  fi
  run 1 run "$cfg" -P run.steps=10 -P checkpoint.every=5 -P checkpoint.dir=ck -o base.h5 \
    > /dev/null || die "checkpointed run"
  before=$(tree_sum ck)
  # (a fork: its checkpoints go elsewhere, so only the input rule can refuse this)
  expect 2 own_checkpoint "one of this run's inputs" -- 2 restart ck/ckpt_00000005.h5 \
    -P levers.registry.max=0 -o ck/../ck/ckpt_00000005.h5 --overwrite
  expect 2 own_snapshot "checkpoint folder" -- 1 restart ck/ckpt_00000005.h5 \
    -o ck/ckpt_00000005.out.h5 --overwrite
  [ "$(tree_sum ck)" = "$before" ] || bad "the checkpoint folder changed"
  # The command line: -o without a value does not swallow the next option; --version, help.
  expect 2 o_without_value "needs a value" -- 1 run "$cfg" -o -q
  run 1 --version > v.out && grep -q "^clhsim " v.out || bad "--version"
  run 1 help > h.out && grep -q "usage:" h.out || bad "help"
  # /run seed is an exact integer.
  "$py" -c "
import sys, h5py
with h5py.File('base.h5', 'r') as f:
    s = f['run'].attrs['seed']
    assert s.dtype.kind == 'u', s.dtype
" || bad "/run seed is not an unsigned integer"
  ok "existing output, inputs, links, devices, -o, --version, help, /run seed"
  ;;

folders)
  # 2a. A second run in the same folder keeps its checkpoints in its own; a restart of the
  # folder continues the first run and says so.
  for r in 1 2; do
    rm -rf checkpoints checkpoints-* a.h5 b.h5
    run "$r" run "$cfg" -P run.steps=20 -P checkpoint.every=5 -o a.h5 > a.out || die "run A"
    ida=$(attr a.h5 / run_id)
    before=$(tree_sum checkpoints)
    run "$r" run "$cfg" -P run.steps=20 -P run.seed=9 -P checkpoint.every=5 -o b.h5 > b.out ||
      die "run B"
    idb=$(attr b.h5 / run_id)
    [ "$(tree_sum checkpoints)" = "$before" ] || bad "run B changed run A's folder"
    [ -f "checkpoints-${idb:0:8}/ckpt_00000020.h5" ] || bad "run B's checkpoints are not in checkpoints-${idb:0:8}"
    grep -q "checkpoints-${idb:0:8}" b.out || bad "run B did not say where its checkpoints go"
    run "$r" restart checkpoints -P run.steps=30 > c.out 2>&1 || {
      cat c.out
      die "restart"
    }
    grep -q "continuing run $ida" c.out || bad "the restart does not name run A: $(head -3 c.out)"
    [ "$(attr a.h5 / run_id)" = "$ida" ] || bad "the continued run has a new id"
    ok "two runs, one default folder ($r rank(s)): separate folders; restart continues run A"
  done
  # 2b. Burn in once, fork twice from the same checkpoint: the source is untouched.
  rm -rf runA
  run 2 run "$cfg" -P run.steps=20 -P checkpoint.every=10 -P checkpoint.dir=runA -o burn.h5 \
    > /dev/null || die "burn-in"
  before=$(tree_sum runA)
  for k in 1 2; do
    run 2 restart runA/ckpt_00000010.h5 -P levers.registry.max=0 -o fork$k.h5 > fork$k.out 2>&1 ||
      {
        cat fork$k.out
        bad "fork $k"
      }
  done
  [ "$(tree_sum runA)" = "$before" ] || bad "a fork changed the source folder"
  same fork1.h5 fork2.h5
  [ "$(attr fork1.h5 /run parent_run_id)" = "$(attr burn.h5 / run_id)" ] || bad "parent_run_id"
  [ "$(attr fork1.h5 /run checkpoint_dir)" != "$(attr fork2.h5 /run checkpoint_dir)" ] ||
    bad "two forks share a checkpoint folder"
  ok "fork twice from one checkpoint: source untouched, forks in folders of their own"
  # 2c. Restarting from a copy of a folder continues in the copy.
  cp -r runA copyA
  run 1 restart copyA -P run.steps=30 -o copy.h5 > copy.out 2>&1 || {
    cat copy.out
    bad "restart from a copy"
  }
  [ "$(tree_sum runA)" = "$before" ] || bad "restarting a copy wrote into the original"
  [ -f copyA/ckpt_00000030.h5 ] || bad "the copy did not receive the new checkpoint"
  ok "restart from a copied folder writes into the copy"
  # 2d. Rotation deletes only the run's own files; `latest` may not point outside its folder.
  cp "checkpoints-${idb:0:8}/ckpt_00000020.h5" runA/ckpt_00000001.h5
  printf '../checkpoints/ckpt_00000010.h5\n' > runA/latest
  run 1 restart runA -P run.steps=40 -o burn.h5 > rot.out 2> rot.err || {
    cat rot.err
    bad "restart with a foreign file and a bad latest"
  }
  grep -q "not a checkpoint file of this folder" rot.err || bad "no warning about latest"
  [ -f runA/ckpt_00000001.h5 ] || bad "rotation deleted another run's checkpoint"
  ok "rotation keeps another run's file; a latest outside the folder is ignored"
  # 10. Nothing to do.
  expect 2 nothing_to_do "nothing to run" -- 2 restart runA -o nothing.h5
  [ ! -e nothing.h5 ] || bad "output written for a restart with nothing to do"
  ;;

snapshot)
  # 3. The output snapshot is verified like the checkpoint: bit flips, a missing snapshot,
  # one spliced in from another run of the same shape, on 1 and 2 ranks.
  run 2 run "$cfg" -P run.steps=10 -P checkpoint.every=10 -P checkpoint.dir=s1 -o s1.h5 \
    > /dev/null || die "run 1"
  run 2 run "$cfg" -P run.steps=10 -P run.seed=5 -P checkpoint.every=10 -P checkpoint.dir=s2 \
    -o s2.h5 > /dev/null || die "run 2"
  snap=s1/ckpt_00000010.out.h5
  size=$(stat -c %s $snap)
  cp $snap saved.out.h5
  n=0
  for pos in $("$py" -c "
import random
r = random.Random(10)
print(' '.join(str(r.randrange($size)) for _ in range(12)))"); do
    cp saved.out.h5 $snap
    "$py" -c "
import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x10]))
" $snap "$pos"
    r=$((1 + n % 2))
    run $r restart s1 -P run.steps=15 -o flip.h5 > flip.out 2> flip.err
    st=$?
    [ $st -eq 2 ] || bad "snapshot flipped at byte $pos ($r rank(s)): status $st"
    [ ! -e flip.h5 ] || bad "output written from a damaged snapshot"
    n=$((n + 1))
  done
  grep -q "output snapshot" flip.err || bad "the message does not name the snapshot"
  ok "$n bit flips in the snapshot refused: $(grep -m1 error flip.err | head -c 200)"
  cp s2/ckpt_00000010.out.h5 $snap
  expect 2 spliced "output snapshot" -- 2 restart s1 -P run.steps=15 -o splice.h5
  rm $snap
  expect 2 missing "copy or move both" -- 1 restart s1 -P run.steps=15 -o missing.h5
  cp saved.out.h5 $snap
  run 2 restart s1 -P run.steps=15 > /dev/null 2>&1 || bad "the restored pair does not restart"
  ok "spliced and missing snapshots refused; the intact pair restarts"
  ;;

early)
  # 9. An unusable checkpoint folder is found before the first step (status 2, no output).
  touch afile
  expect 2 ckdir_file "not a folder" -- 2 run "$cfg" -P run.steps=5 -P checkpoint.dir=afile -o e1.h5
  expect 2 ckdir_proc "checkpoint.dir" -- 1 run "$cfg" -P run.steps=5 -P checkpoint.dir=/proc/x/ck \
    -o e2.h5
  [ ! -e e1.h5 ] && [ ! -e e2.h5 ] || bad "output written despite an unusable checkpoint folder"
  # Runs started together in one working folder try the default checkpoint folder at the same
  # time (one makes and removes it while another looks): none may be refused.
  mkdir together && pushd together > /dev/null || exit 1
  refused=0
  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    "$bin" run "$cfg" -P run.steps=2 -o a$i.h5 --quiet > a$i.log 2>&1 &
    pa=$!
    "$bin" run "$cfg" -P run.steps=2 -o b$i.h5 --quiet > b$i.log 2>&1 &
    pb=$!
    wait $pa || refused=$((refused + 1))
    wait $pb || refused=$((refused + 1))
  done
  popd > /dev/null || exit 1
  if [ $refused -eq 0 ]; then ok "24 runs started in pairs in one folder: none refused"; else
    bad "$refused of 24 runs started in pairs were refused: $(cat together/*.log | grep -m1 error)"
  fi
  # 13. A folder named clhsim.stop is not a stop request.
  mkdir clhsim.stop
  run 2 run "$cfg" -P run.steps=8 -o stopdir.h5 > stopdir.out 2>&1
  st=$?
  [ $st -eq 0 ] || bad "a folder named clhsim.stop stopped the run (status $st)"
  [ -d clhsim.stop ] || bad "the folder clhsim.stop was removed"
  ok "a folder named clhsim.stop does not stop a run"
  ;;

diskfull)
  # 5. A full disk: a message and a non-zero status, no temporary files, no signal, no hang,
  # on 1 and 2 ranks, for the output and for checkpoints. tmpfs where mounting is allowed.
  mkdir -p full
  if mount -t tmpfs -o size=600k tmpfs full 2> /dev/null; then
    trap 'umount "$dir/full" 2> /dev/null' EXIT
    for r in 1 2; do
      run $r run "$cfg" -P run.steps=120 -o full/o.h5 > df.out 2> df.err
      st=$?
      { [ $st -eq 1 ] && grep -q "disk is full" df.err; } || bad "output, full disk, $r rank(s): status $st: $(cat df.err)"
      [ -z "$(ls full)" ] || bad "left in the full folder: $(ls full)"
      run $r run "$cfg" -P run.steps=120 -P checkpoint.every=50 -P checkpoint.dir=full/ck \
        -o ckfull$r.h5 > df.out 2> df.err
      st=$?
      { [ $st -eq 1 ] && grep -q "disk is full" df.err; } || bad "checkpoint, full disk, $r rank(s): status $st: $(cat df.err)"
      ls full/ck | grep -q "tmp\|ckpt_" && bad "left in the checkpoint folder: $(ls full/ck)"
      rm -rf full/*
      # The disk fills inside HDF5's collective call (the free-space check bypassed).
      CLHS_FAULT_NO_SPACE_CHECK=1 CLHS_IO_AGREE_TIMEOUT=5 run $r run "$cfg" -P run.steps=1500 \
        -o full/o.h5 > df.out 2> df.err
      st=$?
      { [ $st -eq 1 ] && grep -q "file write failed\|cannot" df.err; } || bad "HDF5 write failure, $r rank(s): status $st: $(cat df.err)"
      ls full | grep -q "tmp" && bad "temporary file left: $(ls full)"
      rm -rf full/*
      ok "full disk on $r rank(s): status 1 with a message, nothing left behind"
    done
  else
    echo "note: cannot mount a tmpfs here (not root or no CAP_SYS_ADMIN): the full-disk runs" \
      "are left out; the fault-injection case below still runs"
  fi
  # A rank that fails while the other waits inside a collective write: the job ends.
  for fr in 0 1; do
    CLHS_FAULT_IO=$fr:30 CLHS_IO_AGREE_TIMEOUT=5 run 2 run "$cfg" -P run.steps=120 -o fi.h5 \
      > fi.out 2> fi.err
    st=$?
    [ $st -eq 1 ] || bad "injected write failure on rank $fr: status $st (124 = hang)"
    grep -q "CLHS_FAULT_IO" fi.err || bad "no message: $(cat fi.err)"
    ls fi.h5.*.tmp 2> /dev/null && bad "temporary file left"
    ok "a write failing on rank $fr alone ends the job (status $st)"
  done
  ;;
*)
  die "unknown case $case_"
  ;;
esac
exit $fail
