#!/bin/sh
# Exact clean-up under concurrency: two `tcplab run`s and
# a `go test` in parallel, `tcplab clean` over and over in a fourth, and a
# fifth run killed with SIGKILL. Every run and the test must pass (clean
# never touches a live session), and after the last clean nothing the
# killed run created is left.
#
#   scripts/concurrent-clean.sh      # about a minute on 2 cores
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/tcplab
go build -o "$bin" ./lab/cmd/tcplab || exit 1
fail=0

"$bin" run dial-refused read-partial close-half opt-linger --parallel 2 >"$tmp/run1" 2>&1 &
run1=$!
"$bin" run backlog-full write-success close-peer --parallel 2 >"$tmp/run2" 2>&1 &
run2=$!
go test ./tests/ -count=1 -run '^(TestDialRefused|TestReadPartial|TestCloseHalf|TestBacklogSlowAccept)$' >"$tmp/test" 2>&1 &
test=$!
# The victim: a long run, killed outright once its containers exist.
"$bin" run backlog-syn-timeout --set client.tcp_syn_retries=3 >"$tmp/victim" 2>&1 &
victim=$!
for _ in $(seq 60); do
	[ -n "$(docker ps -aq --filter label=tcplab.pid=$victim)" ] && break
	sleep 1
done
kill -9 $victim
wait $victim 2>/dev/null

# Clean while the others run; it must say it removed the victim's session.
while kill -0 $run1 2>/dev/null || kill -0 $run2 2>/dev/null || kill -0 $test 2>/dev/null; do
	"$bin" clean >>"$tmp/clean" 2>&1 || { echo "FAIL: tcplab clean exited $?"; fail=1; }
	sleep 2
done
for p in run1 run2 test; do
	eval pid=\$$p
	if wait "$pid"; then echo "ok   $p"; else echo "FAIL $p:"; tail -20 "$tmp/$p"; fail=1; fi
done
"$bin" clean >>"$tmp/clean" 2>&1
if grep -q "removed session $victim-" "$tmp/clean"; then
	echo "ok   clean removed the killed run's session"
else
	echo "FAIL clean never removed the killed run's session:"; cat "$tmp/clean"; fail=1
fi
left=$(docker ps -aq --filter label=tcplab.pid=$victim; docker network ls -q --filter label=tcplab.pid=$victim)
if [ -n "$left" ]; then echo "FAIL left behind by the killed run: $left"; fail=1; else echo "ok   nothing of the killed run is left"; fi
for p in $run1 $run2; do
	n=$(docker ps -aq --filter label=tcplab.pid=$p | wc -l)
	[ "$n" -eq 0 ] || { echo "FAIL run $p left $n containers"; fail=1; }
done
[ $fail -eq 0 ] && echo "PASS concurrent clean-up" || echo "FAIL concurrent clean-up"
exit $fail
