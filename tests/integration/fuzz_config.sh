#!/usr/bin/env bash
# Fuzz the configuration (issue 10): every key that `clhsim config --markdown` lists, set to
# hostile values (empty, overflowing and non-finite numbers, YAML syntax, unknown tags, 100,000
# levels of nesting, 100,000-character strings, control characters, odd paths) through -P, in
# a YAML file, and (a fixed-seed sample) in `clhsim run` of a tiny world whose output and
# checkpoints stay in a scratch folder; plus hostile files (deep nesting, tags, encodings,
# aliases, a directory, /dev/zero). Every case must end with exit 0 or 2 (never 1, a signal or
# a hang) and, on 2, leave the scratch folder as it was. The cases are a fixed list (seeded):
# about 700 starts of clhsim, 20-40 s on 2 cores. Details: fuzz_config.py.
# usage: fuzz_config.sh CLHSIM WORKDIR [--jobs N] [--seed S] [--verbose]
set -uo pipefail
bin=$1 dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
command -v timeout > /dev/null || { echo "fuzz_config: needs timeout (coreutils)"; exit 1; }
exec "$python" "$here/fuzz_config.py" "$bin" "$dir" "$@"
