#!/usr/bin/env bash
# clhsim ensemble (issue 14).
#   solo     a 2 x 3 design (grid x seeds) on 4 ranks in 2 groups of 2: every member's file and
#            its row of the ensemble file equal, byte for byte over /timeseries, the same
#            configuration run alone with `clhsim run` at 1 x 1; the ensemble file opens in
#            xarray with a `member` dimension and the seed and the varied key as coordinates.
#   restart  an 8-member design on 2 ranks stopped (SIGUSR1 to mpiexec) once 2 members are
#            done: exit 3, no ensemble file, the finished members' rows already in the file
#            being written; run again: the done members are not run again
#            (their files untouched), the others are, and the ensemble file equals an
#            uninterrupted ensemble's; run a third time with -o spelt as an absolute path,
#            it finds every member done.
#   trial    a simulated cluster-randomised trial of the QI lever (2 scenarios x 3 seeds, 20
#            centres all members from the start, 2 size strata) and its analysis:
#            tests/integration/check_trial.py (known effects, the allocation, the effect of
#            the lever switched off in one arm, none when it is off in both).
#   bad      a bad design (unknown key, bad seeds, a varied key that shapes the axes, a bad
#            value) exits 2 naming the file and line or key, writing no ensemble file.
# usage: ensemble.sh solo|restart|trial|bad CLHSIM OUTDIR       (PYTHON: python3 with h5py, xarray)
set -euo pipefail
mode=$1 bin=$(realpath "$2") dir=$3
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
"$py" -c "import h5py, numpy, xarray, netCDF4" 2>/dev/null ||
  { echo "SKIP: $py lacks h5py/xarray/netCDF4"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
export OMP_NUM_THREADS=1

solo() {
  printf '%s\n' "set:" "  run.steps: 30" "  population.centres: 4" \
    "  population.patients_median: 60" "  population.patients_min: 50" \
    "  population.patients_max: 80" "seeds: 1-3" "grid:" "  care.rem_evidence: [0, 6.75]" \
    "output: ens.h5" > design.yml
  mpiexec -n 4 --bind-to none "$bin" ensemble design.yml --group-ranks 2 > ens.log 2>&1 ||
    { echo "FAIL: the ensemble failed:"; cat ens.log; exit 1; }
  grep -q "6 members (6 to run, 0 done before) on 2 group(s) of 2 rank(s)" ens.log ||
    { echo "FAIL: unexpected start line:"; cat ens.log; exit 1; }
  for m in 0 1 2 3 4 5; do
    re=0
    [ $m -ge 3 ] && re=6.75
    "$bin" run -P run.steps=30 -P population.centres=4 -P population.patients_median=60 \
      -P population.patients_min=50 -P population.patients_max=80 -P care.rem_evidence=$re \
      -P run.seed=$((m % 3 + 1)) -o "solo_$m.h5" --quiet > "solo_$m.log" 2>&1
  done
  "$py" - <<'PY'
import sys
import h5py
import xarray as xr
e = h5py.File("ens.h5", "r")["timeseries"]
bad = []
for m in range(6):
    s = h5py.File(f"solo_{m}.h5", "r")["timeseries"]
    f = h5py.File(f"ens.h5.members/member_{m:06d}.h5", "r")["timeseries"]
    want_re = 0.0 if m < 3 else 6.75
    if int(e["seed"][m]) != m % 3 + 1 or float(e["care.rem_evidence"][m]) != want_re:
        bad.append(f"member {m}: coordinates {e['seed'][m]}, {e['care.rem_evidence'][m]}")
    for k in s:
        a = s[k][()]
        if e[k].ndim == a.ndim:  # an axis, copied once
            if a.tobytes() != e[k][()].tobytes():
                bad.append(f"axis {k}")
            continue
        if a.tobytes() != f[k][()].tobytes():
            bad.append(f"member {m} file: {k}")
        if a.tobytes() != e[k][m].tobytes():
            bad.append(f"member {m} row of the ensemble: {k}")
ds = xr.open_dataset("ens.h5", group="timeseries", engine="netcdf4")
if ds.sizes.get("member") != 6 or "seed" not in ds.coords or "care.rem_evidence" not in ds.coords:
    bad.append(f"xarray: {dict(ds.sizes)}, coords {list(ds.coords)}")
if ds.remission_observed.dims != ("member", "time"):
    bad.append(f"xarray: remission_observed dims {ds.remission_observed.dims}")
# the cell bounds of time and the axes' label variables: once, not per member
if ds.time_bnds.dims != ("time", "nv") or ds.type_name.dims != ("type",) or \
        "type_name" not in ds.agents_by_tier.coords or list(ds.type_name.values[:1]) != ["PAT"]:
    bad.append(f"xarray: time_bnds {ds.time_bnds.dims}, type_name {ds.type_name.dims}, "
               f"agents_by_tier coords {list(ds.agents_by_tier.coords)}")
# the loaders: load_ensemble and load_many of the members' files give the same numbers
import numpy as np
import clhsim_analysis as ca
ens = ca.load_ensemble("ens.h5")
many = ca.load_many([f"ens.h5.members/member_{m:06d}.h5" for m in range(6)], dim="member")
for k in ("remission_observed", "agents_by_tier", "centre_remission_observed"):
    if not np.array_equal(ens[k].values, many[k].values, equal_nan=True):
        bad.append(f"load_ensemble and load_many differ in {k}")
if list(many["care.rem_evidence"].values) != [0, 0, 0, 6.75, 6.75, 6.75]:
    bad.append(f"load_many: care.rem_evidence {many['care.rem_evidence'].values}")
if len(ens.attrs["members"]) != 6 or ens.attrs["members"][4]["run"].get("seed") != 2:
    bad.append("load_ensemble: members' /run records")
# partial rank correlation on a known case: y rises with x0, not with x1
from clhsim_analysis.ensemble_report import prcc
rng = np.random.default_rng(5)
X = rng.random((200, 2))
r = prcc(X, X[:, 0] + 0.05 * rng.random(200))
if not (r[0] > 0.95 and abs(r[1]) < 0.2):
    bad.append(f"prcc on y = x0 + noise: {r}")
if bad:
    print("FAIL:", *bad[:20], sep="\n  ")
    sys.exit(1)
print("ok: 6 members (2 groups of 2 ranks) equal their solo runs at 1 x 1, file and ensemble "
      "row; xarray: member dimension with seed and care.rem_evidence as coordinates; "
      "load_ensemble = load_many of the member files; PRCC of a known case")
PY
  "$py" "$here/../../analysis/clhsim-analysis" ensemble ens.h5 -o report > report.txt ||
    { echo "FAIL: clhsim-analysis ensemble"; cat report.txt; exit 1; }
  grep -q "care.rem_evidence = 6.75" report.txt || { echo "FAIL: groups not labelled"; exit 1; }
  for f in bands.png bands.svg targets.csv outcomes.csv; do
    [ -s "report/$f" ] || { echo "FAIL: report/$f missing"; exit 1; }
  done
}

restart() {
  printf '%s\n' "set:" "  run.steps: 200" "  population.centres: 20" "seeds: 1-8" \
    "output: ens.h5" > design.yml
  mkdir full && cp design.yml full/
  (cd full && mpiexec -n 2 --bind-to none "$bin" ensemble design.yml -q > ens.log 2>&1) ||
    { echo "FAIL: the uninterrupted ensemble failed"; cat full/ens.log; exit 1; }
  mpiexec -n 2 --bind-to none "$bin" ensemble design.yml > first.log 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do
    [ "$(cat ens.h5.members/done 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.05
  done
  kill -USR1 $pid
  local rc=0
  wait $pid || rc=$?
  [ $rc = 3 ] || { echo "FAIL: the stopped ensemble exited $rc, not 3:"; cat first.log; exit 1; }
  [ ! -e ens.h5 ] || { echo "FAIL: a stopped ensemble wrote ens.h5"; exit 1; }
  ! grep -q "resume with: clhsim restart" first.log ||
    { echo "FAIL: a stopped member points to clhsim restart:"; cat first.log; exit 1; }
  # the rows of the members that finished are already in the ensemble file being written
  "$py" - <<'PY'
import sys
import h5py
t = h5py.File("ens.h5.members/ensemble.tmp.h5", "r")
done = [int(l.split()[0]) for l in open("ens.h5.members/done")]
written = t["members/written"][()]
bad = [m for m in done if not written[m]]
for m in done:
    f = h5py.File(f"ens.h5.members/member_{m:06d}.h5", "r")["timeseries"]
    for k in ("remission_observed", "agents_by_tier", "centre_reliability"):
        if f[k][()].tobytes() != t["timeseries"][k][m].tobytes():
            bad.append(f"member {m}: {k}")
if bad or not done:
    print("FAIL: rows of finished members not in the ensemble file being written:", bad, done)
    sys.exit(1)
print(f"ok: {len(done)} finished members' rows written as they finished ({int(written.sum())} rows in)")
PY
  local ndone
  ndone=$(wc -l < ens.h5.members/done)
  [ "$ndone" -lt 8 ] || { echo "SKIP: every member finished before the stop"; exit 77; }
  stamps() { sort -n ens.h5.members/done | head -n "$ndone" | while read -r m _; do
    stat -c '%Y.%n' "ens.h5.members/member_$(printf %06d "$m").h5"; done; }
  local before after
  before=$(stamps)
  sleep 1.1
  mpiexec -n 2 --bind-to none "$bin" ensemble design.yml > second.log 2>&1 ||
    { echo "FAIL: the second run failed:"; cat second.log; exit 1; }
  grep -q "8 members ($((8 - ndone)) to run, $ndone done before)" second.log ||
    { echo "FAIL: the second run did not skip the $ndone done members:"; cat second.log; exit 1; }
  after=$(stamps)
  [ "$before" = "$after" ] || { echo "FAIL: done members were run again"; exit 1; }
  # the same design with the output spelt as an absolute path: every member is found done
  mpiexec -n 2 --bind-to none "$bin" ensemble design.yml -o "$PWD/ens.h5" > third.log 2>&1 ||
    { echo "FAIL: the third run failed:"; cat third.log; exit 1; }
  grep -q "8 members (0 to run, 8 done before)" third.log ||
    { echo "FAIL: -o as an absolute path ran members again:"; cat third.log; exit 1; }
  "$py" "$here/compare_timeseries.py" ens.h5 full/ens.h5 ||
    { echo "FAIL: the continued ensemble differs from the uninterrupted one"; exit 1; }
  echo "ok: stopped with $ndone of 8 done (exit 3), continued with $((8 - ndone)), equal to the" \
    "uninterrupted ensemble"
  # killed (SIGKILL to every process of the job) once 2 members are done: run again, it ends
  # equal to the uninterrupted ensemble and leaves no killed member's temporary file
  mkdir killed && cp design.yml killed/ && cd killed
  mpiexec -n 2 --bind-to none "$bin" ensemble design.yml -o k9.h5 > first.log 2>&1 &
  for _ in $(seq 1 1200); do
    [ "$(cat k9.h5.members/done 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.05
  done
  pkill -9 -f "ensemble design.yml -o k9.h5" || true
  wait || true
  mpiexec -n 2 --bind-to none "$bin" ensemble design.yml -o k9.h5 > second.log 2>&1 ||
    { echo "FAIL: the run after the kill failed:"; cat second.log; exit 1; }
  ! ls k9.h5.members | grep -q '^member_.*\.tmp$' ||
    { echo "FAIL: killed members' temporary files left:"; ls k9.h5.members; exit 1; }
  "$py" "$here/compare_timeseries.py" k9.h5 ../full/ens.h5 ||
    { echo "FAIL: the ensemble run again after a kill differs from the uninterrupted one"; exit 1; }
  cd ..
  echo "ok: killed with SIGKILL and run again: equal to the uninterrupted ensemble"
}

expect_bad() { # design text, text the message must contain
  printf '%s\n' "$1" > bad.yml
  local rc=0
  mpiexec -n 2 --bind-to none "$bin" ensemble bad.yml -o bad.h5 > bad.log 2>&1 || rc=$?
  [ $rc = 2 ] || { echo "FAIL: exit $rc (not 2) for: $1"; cat bad.log; exit 1; }
  grep -qF -- "$2" bad.log || { echo "FAIL: the message lacks '$2':"; cat bad.log; exit 1; }
  [ ! -e bad.h5 ] || { echo "FAIL: bad.h5 written"; exit 1; }
}

trial() {
  printf '%s\n' "set:" "  run.steps: 156" "  population.centres: 20" \
    "  population.patients_median: 60" "  centres.schedule: [[2007-01-01, 100]]" \
    "seeds: 1-3" "scenarios:" "  - {name: qi_trial, set: {}}" \
    "  - {name: null_trial, set: {levers.qi_training.max: 0}}" \
    "trial: {lever: qi_training, seed: 5, strata: 2}" > design.yml
  mpiexec -n 2 --bind-to none "$bin" ensemble design.yml -o trial.h5 > ens.log 2>&1 ||
    { echo "FAIL: the ensemble failed:"; cat ens.log; exit 1; }
  "$py" "$here/check_trial.py" trial.h5
  PYTHONPATH="$here/../../analysis" "$py" -m clhsim_analysis trial trial.h5 --date 2009-12-01 \
    --baseline 2007-01-01 -o report > report.log 2>&1 ||
    { echo "FAIL: clhsim-analysis trial:"; cat report.log; exit 1; }
  for f in trial.csv replicates.csv trial.png trial.svg; do
    [ -s "report/$f" ] || { echo "FAIL: report/$f missing"; exit 1; }
  done
  PYTHONPATH="$here/../../analysis" "$py" -m clhsim_analysis ensemble trial.h5 -o ensrep \
    > ensrep.log 2>&1 || { echo "FAIL: clhsim-analysis ensemble:"; cat ensrep.log; exit 1; }
  grep -q "trial of levers.qi_training: effect on centre_remission_observed" ensrep.log &&
    [ "$(grep -c -E '^[^,]*,?(qi_trial|null_trial),' ensrep/trial.csv)" = 2 ] ||
    { echo "FAIL: clhsim-analysis ensemble did not report the trial:"; cat ensrep.log \
      ensrep/trial.csv; exit 1; }
  echo "ok: clhsim-analysis trial and ensemble wrote the trial's table and figures"
}

bad() {
  expect_bad "$(printf 'seeds: 1-3\ncolour: red')" "bad.yml:2: unknown key 'colour'"
  expect_bad "seeds: 5-2" "bad.yml:1: seeds: expected N, A-B"
  expect_bad "$(printf 'grid:\n  run.steps: [10, 20]')" "run.steps varies between members"
  expect_bad "$(printf 'set:\n  care.h_rem: 7')" "care.h_rem"
  expect_bad "$(printf 'scenarios:\n  - {name: a, set: {output.every: 2}}\n  - {name: b, set: {}}')" \
    "output.every varies between members (member 1 differs from member 0)"
  expect_bad "$(printf 'seeds: 1\ntrial: {lever: coffee}')" "bad.yml:2: trial.lever: unknown lever 'coffee'"
  expect_bad "$(printf 'set: {population.centres: 10}\ntrial: {lever: previsit, centres: [3, 12]}')" \
    "centre 12 is not a centre"
  expect_bad "$(printf 'trial: {lever: previsit, centres: [3]}')" "trial: needs at least 2 centres"
  # a second launch of the same ensemble while one runs (its lock held) is refused
  mkdir -p twice.h5.members
  printf '%s\n' "set: {population.centres: 4, run.steps: 12}" > twice.yml
  local rc=0
  exec 9> twice.h5.members/ensemble.lock
  flock 9
  mpiexec -n 2 --bind-to none "$bin" ensemble twice.yml -o twice.h5 > twice.log 2>&1 || rc=$?
  exec 9>&-
  [ $rc = 2 ] && grep -q "another launch of this ensemble is running" twice.log ||
    { echo "FAIL: a second launch was not refused (exit $rc):"; cat twice.log; exit 1; }
  # a key that shapes the axes may be set in every scenario, as long as it does not vary
  printf '%s\n' "set: {population.centres: 4}" "scenarios:" \
    "  - {name: a, set: {run.steps: 12}}" "  - {name: b, set: {run.steps: 12, care.h_rem: 0.013}}" \
    > same.yml
  mpiexec -n 2 --bind-to none "$bin" ensemble same.yml -o same.h5 -q > same.log 2>&1 ||
    { echo "FAIL: a fixed key set alike in every scenario was refused:"; cat same.log; exit 1; }
  echo "ok: bad designs exit 2 naming the file and line or the key"
}

case $mode in
solo | restart | trial | bad) "$mode" ;;
*) echo "usage: ensemble.sh solo|restart|trial|bad CLHSIM OUTDIR" >&2; exit 2 ;;
esac
