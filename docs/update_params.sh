#!/usr/bin/env bash
# Regenerate the parameter tables of docs/model.md from the one table of defaults.
#   docs/update_params.sh [CLHSIM]          rewrite docs/model.md in place
#   docs/update_params.sh CLHSIM --check    exit 1 if docs/model.md is out of date
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/release/clhsim}
doc=$here/model.md
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.md"' EXIT
"$bin" config --markdown > "$tmp"
awk -v gen="$tmp" '
  /<!-- BEGIN PARAMETERS/ { print; while ((getline line < gen) > 0) print line; skip = 1; next }
  /<!-- END PARAMETERS/ { skip = 0 }
  !skip { print }' "$doc" > "$tmp.md"
if [ "${2:-}" = "--check" ]; then
  if ! diff -q "$doc" "$tmp.md" > /dev/null; then
    echo "docs/model.md parameter tables are out of date: run docs/update_params.sh" >&2
    diff -u "$doc" "$tmp.md" | head -40 >&2
    exit 1
  fi
  echo "docs/model.md parameter tables are current"
else
  cp "$tmp.md" "$doc"
fi
