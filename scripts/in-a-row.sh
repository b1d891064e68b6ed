#!/usr/bin/env bash
# Runs `go test ./... -count=1` N times back to back (default 5) and sums
# up: each run's wall time and exit, and how many runs were measured again
# because their delay line or a role ran late. Red must mean TCP behaved
# differently, so the target is N green runs and 0 re-measurements.
#
#   scripts/in-a-row.sh [N] [GO-TEST-ARGS…]
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(./... -count=1 -timeout 30m)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for i in $(seq "$n"); do
	SECONDS=0
	rc=0
	TCPLAB_SUMMARY=$tmp/s$i go test "${args[@]}" >"$tmp/out$i" 2>&1 || rc=$?
	r=$(awk -F'[= ]' '/^remeasured=/ {n += $2; r += $4; if ($6 > p) p = $6; if ($8 > x) x = $8} END {printf "%d of %d (delay line release lateness: worst p99 %.1f ms, worst max %.1f ms)", n, r, p / 1000, x / 1000}' "$tmp/s$i" 2>/dev/null)
	echo "run $i: exit $rc in ${SECONDS} s; runs measured again: ${r:-0 of 0}"
	grep '^# measured again' "$tmp/s$i" 2>/dev/null | sed 's/^# /  /'
	if [ "$rc" != 0 ]; then
		failed=$((failed + 1))
		# Every failed test and subtest with its assertion's message; the
		# whole output is kept for reading.
		grep -E -A12 '^ *--- FAIL' "$tmp/out$i" | grep -E '^ *--- FAIL|Error:|Messages:|expectation|lab could not run|^ {16,}[^ ]' | head -60
		keep=${TMPDIR:-/tmp}/in-a-row-run$i.log
		cp "$tmp/out$i" "$keep" && echo "  whole output: $keep"
		grep -E '^(FAIL|panic)' "$tmp/out$i" | head -10
	fi
done
total=$(cat "$tmp"/s* 2>/dev/null | awk -F'[= ]' '/^remeasured=/ {n += $2; r += $4; if ($6 > p) p = $6; if ($8 > x) x = $8} END {printf "%d of %d (delay line release lateness: worst p99 %.1f ms, worst max %.1f ms)", n, r, p / 1000, x / 1000}')
echo "in a row: $((n - failed)) of $n green; runs measured again in all: ${total:-0 of 0}"
[ "$failed" = 0 ]
