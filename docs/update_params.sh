#!/usr/bin/env bash
# Regenerate the generated tables of the documentation from the code:
#   docs/model.md   parameter tables  (clhsim config --markdown)
#   docs/output.md  variable and /run tables (clhsim variables)
#   docs/checkpoint.md  the world's arrays and the checkpoint layout (clhsim state)
#   docs/update_params.sh [CLHSIM]          rewrite them in place
#   docs/update_params.sh CLHSIM --check [MARKER ...]
#                                           exit 1 if any (or any of the MARKERs) is out of date
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/release/clhsim}
mode=${2:-}
only=" ${*:3} "
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
# section FILE MARKER COMMAND...
section() {
  local doc=$1 marker=$2
  shift 2
  [ "$only" = "  " ] || [[ "$only" == *" $marker "* ]] || return 0
  "$@" > "$tmp/gen"
  awk -v gen="$tmp/gen" -v m="$marker" '
    index($0, "<!-- BEGIN " m) { print; while ((getline line < gen) > 0) print line; skip = 1; next }
    index($0, "<!-- END " m) { skip = 0 }
    !skip { print }' "$doc" > "$tmp/new"
  if [ "$mode" = "--check" ]; then
    if ! diff -q "$doc" "$tmp/new" > /dev/null; then
      echo "$(basename "$doc"): the $marker tables are out of date: run docs/update_params.sh" >&2
      diff -u "$doc" "$tmp/new" | head -40 >&2
      status=1
    else
      echo "$(basename "$doc"): $marker tables are current"
    fi
  else
    cp "$tmp/new" "$doc"
  fi
}
section "$here/model.md" PARAMETERS "$bin" config --markdown
section "$here/output.md" VARIABLES "$bin" variables
section "$here/checkpoint.md" STATE "$bin" state
exit $status
