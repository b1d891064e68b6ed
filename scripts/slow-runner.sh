#!/usr/bin/env bash
# Runs the test suite on a runner made slower on purpose, three ways: the
# suite must pass, slower but green, since a run's deadline counts from
# its own work and waits for the pacer or the daemon do not count.
#
#   scripts/slow-runner.sh burn        [GO-TEST-ARGS…]  # a CPU burner keeps one of the cores busy
#   scripts/slow-runner.sh one-core    [GO-TEST-ARGS…]  # the daemon, its containers and the tests on CPU 0
#   scripts/slow-runner.sh slow-docker [GO-TEST-ARGS…]  # every Docker API call held 200 ms (a proxy)
#
# GO-TEST-ARGS default to `./... -count=1`. Prints the wall time and how
# many runs were measured again (a delay line or a role late). one-core needs root
# (it moves dockerd and containerd to CPU 0, and back at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(./... -count=1 -timeout 30m)
export TESTCONTAINERS_RYUK_DISABLED=${TESTCONTAINERS_RYUK_DISABLED:-true}
export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-localhost}
tmp=$(mktemp -d)
summary=$tmp/summary
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c" || true; done; rm -rf "$tmp"' EXIT
limit=3600 # every helper below ends by itself after an hour at most
prefix=()
case "$mode" in
burn)
	# One core busy, the other free for the daemon and the tests.
	pin=(); command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ] && pin=(taskset -c 1)
	"${pin[@]}" timeout "$limit" sh -c 'while :; do :; done' &
	cleanup+=("kill $!")
	;;
one-core)
	all="0-$(($(nproc) - 1))"
	for p in $(pgrep -x dockerd) $(pgrep -x containerd); do
		taskset -a -p -c 0 "$p" >/dev/null
		cleanup+=("taskset -a -p -c $all $p >/dev/null")
	done
	prefix=(taskset -c 0)
	;;
slow-docker)
	go build -o "$tmp/slowdocker" ./tests/slowdocker
	"$tmp/slowdocker" -listen "$tmp/docker.sock" -delay 200ms -for "${limit}s" &
	cleanup+=("kill $!; wait $! 2>/dev/null")
	for _ in $(seq 50); do [ -S "$tmp/docker.sock" ] && break; sleep 0.1; done
	export DOCKER_HOST=unix://$tmp/docker.sock
	;;
*)
	echo "usage: scripts/slow-runner.sh burn|one-core|slow-docker [GO-TEST-ARGS…]" >&2
	exit 2
	;;
esac
SECONDS=0
rc=0
TCPLAB_SUMMARY=$summary "${prefix[@]}" go test "${args[@]}" || rc=$?
remeasured=$(awk -F'[= ]' '/^remeasured=/ {n += $2; r += $4; if ($6 > p) p = $6; if ($8 > x) x = $8} END {printf "%d of %d (delay line release lateness: worst p99 %.1f ms, worst max %.1f ms)", n, r, p / 1000, x / 1000}' "$summary" 2>/dev/null || echo "?")
{ grep '^# measured again' "$summary" 2>/dev/null || true; } | sed 's/^# /  /'
echo "slow-runner $mode: go test ${args[*]}: exit $rc in ${SECONDS} s; runs measured again: ${remeasured:-0 of 0}"
exit "$rc"
