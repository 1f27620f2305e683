#!/usr/bin/env bash
# The analysis tools (analysis/clhsim-analysis, analysis/clhsim_analysis) on short real runs:
# report's figures and numbers, compare's verdicts, exit statuses and numbers, load/to_frame,
# and the targets that need variables a file may not have. Numbers are checked against the
# files read independently with h5py (check_analysis.py).
# Usage: analysis.sh CLHSIM PYTHON OUTDIR
set -euo pipefail
bin=$1 py=$2 dir=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tool=("$py" "$root/analysis/clhsim-analysis")
check=("$py" "$here/check_analysis.py")
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"

run() { OMP_NUM_THREADS=1 "$bin" run --quiet "$@" >/dev/null; }
# expect STATUS CMD...: run CMD, fail unless it exits with STATUS (output in the files given).
expect() {
    local want=$1 rc=0
    shift
    "$@" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: exit status $rc, expected $want: $*" >&2
        exit 1
    fi
}

# Four short runs (60 weeks: 2007-01-01 to 2008-02-25) of the default scenario: seed 1 twice,
# seeds 2 and 3; one tiny run (3 weeks, 5 centres) and one with a record every 13 steps.
run -P run.steps=60 -o a.h5
run -P run.steps=60 -o a_again.h5
run -P run.steps=60 -P run.seed=2 -o b.h5
run -P run.steps=60 -P run.seed=3 -o c.h5
run -P run.steps=3 -P population.centres=5 -o tiny.h5
run -P run.steps=110 -P output.every=13 -P population.centres=10 -o coarse.h5

# report: figures, summary (stdout = summary.txt); numbers checked below
"${tool[@]}" report a.h5 -o rep_a >rep_a.out
cmp rep_a.out rep_a/summary.txt
grep -q "^  remission_2015 .* not in run$" rep_a.out
# (2008-2019 pooled: "not in run", or "not recorded" by a binary without the counters)
grep -Eq "^  annual_relapse .* (not in run|not recorded)$" rep_a.out
"${tool[@]}" report coarse.h5 -o rep_coarse >/dev/null
"${tool[@]}" report tiny.h5 -o rep_tiny >rep_tiny.out
test -s rep_tiny/overview.png && test -s rep_tiny/summary.txt
grep -q "^  remission_2007 .* not in run$" rep_tiny.out   # 3 weeks do not cover 2007
echo "ok: report ran (a 60-week run, a coarse run, a 3-week run)"

# compare: identical (a file with itself; a rerun with the same seed) -> 0
expect 0 "${tool[@]}" compare a.h5 a.h5 --no-plot >cmp_self.out
grep -q "^A vs B: IDENTICAL" cmp_self.out
expect 0 "${tool[@]}" compare a.h5 a_again.h5 --no-plot >cmp_again.out
grep -q "^A vs B: IDENTICAL" cmp_again.out
grep -q "^verdict: identical" cmp_again.out
# different seeds -> 1 (the first difference and the largest differences checked below)
expect 1 "${tool[@]}" compare a.h5 b.h5 -o cmp_ab >cmp_ab.out
grep -q "^A vs B: DIFFERENT" cmp_ab.out
grep -q "run.seed 1 vs 2" cmp_ab.out
# three seeds of one scenario: a mean-and-band plot
expect 1 "${tool[@]}" compare a.h5 b.h5 c.h5 -o cmp_abc >cmp_abc.out
grep -q "one scenario, seeds 1, 2, 3" cmp_abc.out
for f in cmp_ab/compare.png cmp_ab/compare_diff.png cmp_abc/compare.png; do
    test "$(stat -c %s "$f")" -gt 8000 || { echo "FAIL: $f too small" >&2; exit 1; }
done
# different lengths (60 vs 3 weeks, and other centres) -> 1
expect 1 "${tool[@]}" compare a.h5 tiny.h5 --no-plot >cmp_tiny.out
grep -q "^  records: 61 vs 4" cmp_tiny.out
echo "ok: compare ran (identical, seeds, an ensemble, different sizes)"

# bad input -> 2, with a message naming the file
echo "not a run" >junk.h5
"$py" -c "import h5py; h5py.File('other.h5', 'w').create_dataset('x', data=[1])"
for bad in missing.h5 junk.h5 other.h5; do
    expect 2 "${tool[@]}" compare a.h5 "$bad" >bad.out 2>bad.err
    grep -q "$bad" bad.err || { echo "FAIL: message does not name $bad:" >&2; cat bad.err >&2; exit 1; }
done
expect 2 "${tool[@]}" report other.h5 -o rep_bad >bad.out 2>bad.err
grep -q "other.h5: not a clhsim output" bad.err
expect 2 "${tool[@]}" compare a.h5 >bad.out 2>bad.err
echo "ok: bad input exits 2 naming the file"

# export --flat: a netCDF-4 file without groups (checked below); never over its input
"${tool[@]}" export --flat a.h5 flat.nc >export.out
expect 2 "${tool[@]}" export --flat a.h5 ./a.h5 >bad.out 2>bad.err
grep -q "a.h5: is the input file" bad.err
# an output folder that cannot be made: one line naming it, status 2 (was a traceback)
expect 2 "${tool[@]}" report a.h5 -o /proc/x >bad.out 2>bad.err
test "$(wc -l <bad.err)" -eq 1 && grep -q "/proc/x" bad.err || { cat bad.err >&2; exit 1; }
# a misspelt variable: the close names, status 2
expect 2 "${tool[@]}" frame a.h5 --variables remision_observed >bad.out 2>bad.err
grep -q "no variable 'remision_observed' (did you mean remission_observed" bad.err
echo "ok: export, unwritable report folder, misspelt variable"

# python -m runs too
PYTHONPATH="$root/analysis" "$py" -m clhsim_analysis targets a.h5 --csv targets.csv
test "$(wc -l <targets.csv)" -gt 10
# several runs: the mean of the seeds against the band
"${tool[@]}" targets a.h5 b.h5 c.h5 --csv targets_many.csv
"${tool[@]}" targets a.h5 b.h5 c.h5 > targets_many.out
grep -q "^3 runs; 'within': their mean lies in the band" targets_many.out

# The numbers, against the files read with h5py: report's summaries and targets.csv, compare's
# first differences and largest differences, load/to_frame, and the targets that need
# variables the file may not have.
"${check[@]}" report a.h5 rep_a + report coarse.h5 rep_coarse \
    + compare cmp_self.out a.h5 a.h5 + compare cmp_again.out a.h5 a_again.h5 \
    + compare cmp_ab.out a.h5 b.h5 + compare cmp_abc.out a.h5 b.h5 c.h5 \
    + frame a.h5 + future a.h5 "$dir" + many targets_many.csv a.h5 b.h5 c.h5 \
    + export a.h5 flat.nc + portable a.h5 "$dir"
echo "analysis tools ok"
