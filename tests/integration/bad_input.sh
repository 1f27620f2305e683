#!/usr/bin/env bash
# Bad input ends every rank with status 2, a message that names the file/line/key,
# and no output file (neither OUT.h5 nor OUT.h5.tmp). Runs on 2 ranks; a hang fails.
# usage: bad_input.sh CLHSIM WORKDIR
set -uo pipefail
bin=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
fail=0
# expect NAME "pattern1|pattern2..." -- clhsim arguments
expect() {
  local name=$1 patterns=$2
  shift 3
  rm -f out.h5 out.h5.tmp
  timeout 120 mpiexec -n 2 --bind-to none "$bin" "$@" > "$name.out" 2> "$name.err"
  local st=$?
  if [ $st -ne 2 ]; then
    echo "FAIL $name: exit status $st, expected 2"; cat "$name.err"; fail=1; return
  fi
  local IFS='|'
  for p in $patterns; do
    grep -qF -- "$p" "$name.err" || { echo "FAIL $name: message lacks '$p':"; cat "$name.err"; fail=1; }
  done
  if [ -e out.h5 ] || [ -e out.h5.tmp ]; then echo "FAIL $name: an output file was written"; fail=1; fi
  echo "ok   $name: $(head -c 300 "$name.err" | tr '\n' ' ')"
}

printf 'run:\n  steps: 10\ncare:\n  h_rell: 0.02\n' > unknown_key.yml
expect unknown_key "unknown_key.yml|:4|h_rell" -- run unknown_key.yml -o out.h5
printf 'run:\n  steps: 10\nfoo:\n  bar: 1\n' > unknown_section.yml
expect unknown_section "unknown_section.yml|:3|foo" -- run unknown_section.yml -o out.h5
printf 'run:\n  steps: ten\n' > wrong_type.yml
expect wrong_type "wrong_type.yml|:2|run.steps" -- run wrong_type.yml -o out.h5
printf 'care:\n  misread: 1.5\n' > out_of_range.yml
expect out_of_range "out_of_range.yml|:2|care.misread|1" -- run out_of_range.yml -o out.h5
printf 'run:\n  steps: [1, 2\n' > broken.yml
expect broken_yaml "broken.yml|:" -- run broken.yml -o out.h5
printf 'engagement:\n  down: [0, 0.1]\n' > vector_len.yml
expect vector_length "vector_len.yml|:2|engagement.down" -- run vector_len.yml -o out.h5
printf 'levers:\n  registry:\n    on: 2007-02-30\n' > bad_date.yml
expect bad_date "bad_date.yml|:3|levers.registry.on" -- run bad_date.yml -o out.h5
expect missing_file "nope.yml" -- run nope.yml -o out.h5
expect bad_override "-P|population.centres" -- run -P population.centres=-5 -o out.h5
expect unknown_override "-P|care.nothing" -- run -P care.nothing=1 -o out.h5
expect centre_every_not_multiple "output.centre_every|multiple of output.every = 4" -- run \
  -P output.every=4 -P output.centre_every=6 -o out.h5
printf 'output:\n  centre_every: -3\n' > centre_every.yml
expect centre_every_negative "centre_every.yml|:2|output.centre_every" -- run centre_every.yml \
  -o out.h5
expect unwritable_output "/nonexistent-dir/x.h5" -- run -P run.steps=2 -o /nonexistent-dir/x.h5
expect unknown_option "--bogus" -- run --bogus
expect unknown_command "frobnicate" -- frobnicate
exit $fail
