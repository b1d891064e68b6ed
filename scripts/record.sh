#!/usr/bin/env bash
# Records the results the verdicts' sensitivity test judges again without
# Docker (lab/scenarios/testdata/recorded): every report case of the named
# scenarios (all by default), run twice in containers on this host, as
# NAME.json and NAME.r2.json. A scenario recorded again replaces all its
# earlier files.
#
#   scripts/record.sh [SCENARIO…]
set -euo pipefail
cd "$(dirname "$0")/.."
out=lab/scenarios/testdata/recorded
tmp=$(mktemp -d)
rc=0
go run ./lab/cmd/tcplab run "$@" --count "${TCPLAB_RECORD_COUNT:-2}" --out "$tmp" || rc=$?
if [ "$rc" != 0 ]; then
	# Only passing results are recorded: a failure is a bound to look at
	# (its files stay in $tmp), not a figure to keep.
	echo "record: tcplab run exited $rc; failed results left in $tmp, not recorded:" >&2
	grep -l '"ok":false' "$tmp"/[0-9]*-*.json >&2 || true
else
	trap 'rm -rf "$tmp"' EXIT
fi
mkdir -p "$out"
scenario() { grep -o '"scenario": *"[^"]*"' "$1" | head -1 | sed 's/.*"\([^"]*\)"$/\1/'; }
declare -A fresh=()
for f in "$tmp"/[0-9]*-*.json; do fresh[$(scenario "$f")]=1; done
for f in "$out"/*.json; do
	[ -e "$f" ] && [ -n "${fresh[$(scenario "$f")]:-}" ] && rm -f "$f"
done
for f in "$tmp"/[0-9]*-*.json; do
	grep -q '"ok":false' "$f" && continue
	b=$(basename "$f")
	name=${b#*-}
	name=${name%.json}
	r=1
	dest=$out/$name.json
	while [ -e "$dest" ]; do r=$((r + 1)); dest=$out/$name.r$r.json; done
	cp "$f" "$dest"
done
echo "recorded: ${!fresh[*]} ($(ls "$out" | wc -l) files in $out)"
exit "$rc"
