#!/usr/bin/env bash
# `clhsim config` prints YAML that clhsim reads back to the same configuration,
# and a file plus -P overrides show up in the printed effective configuration.
set -euo pipefail
bin=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
"$bin" config > default.yml
grep -q "h_rel" default.yml
"$bin" config default.yml > again.yml
diff -u default.yml again.yml
printf 'care:\n  h_rel: 0.02\n' > mine.yml
"$bin" config mine.yml -P levers.registry.on=2008-01-01 -P network.attend=[0.1,0.2,0.3] > eff.yml
grep -Eq "h_rel: 0.02$" eff.yml
grep -Eq '"?on"?: 2008-01-01' eff.yml
grep -Eq "attend: \[0.1, ?0.2, ?0.3\]" eff.yml
echo "config round trip ok"
