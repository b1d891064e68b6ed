#!/usr/bin/env bash
# Runs the lab on daemons other than the machine's Docker, on this machine:
# Podman (rootful, its Docker-compatible socket) and rootless Docker
# (rootlesskit, slirp4netns, as a user of its own). On each, a subset of
# the tests (`go test -run`) and `tcplab run` of a few scenarios; then one
# report with a column per daemon, Docker's beside them.
#
#   scripts/other-daemons.sh [OUT]        # OUT: default results-hosts
#
# Needs root and Debian's packages (installed when missing): podman,
# rootlesskit, uidmap, slirp4netns. Everything it starts stops at exit.
# Two things of this machine it sets for the time it runs, and restores:
#   - Docker's FORWARD policy (DROP, with br_netfilter) also drops what
#     Podman's bridges carry between two containers; a DOCKER-USER rule
#     accepts podman* to podman*.
#   - /dev/net/tun is root's only; rootless Docker's slirp4netns needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results-hosts}
[ "$(id -u)" = 0 ] || { echo "other-daemons: needs root (to start Podman and a user's rootless Docker)" >&2; exit 2; }
export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost
subset='^(TestDialRefused|TestBacklogFull|TestBacklogSynTimeout|TestDialTimeout|TestLatencyDial|TestImpairRTT|TestNoWayOut)$'
scenarios=(dial-refused backlog-full backlog-syn-timeout dial-timeout latency-dial)
tmp=$(mktemp -d)
chmod 755 "$tmp"
cleanup=()
trap 'for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do eval "${cleanup[i]}" || true; done; rm -rf "$tmp"' EXIT
log() { echo "== $(date -u +%T) other-daemons: $*"; }

need=()
for p in podman rootlesskit newuidmap slirp4netns; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	log "installing podman rootlesskit uidmap slirp4netns"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman rootlesskit uidmap slirp4netns >/dev/null
fi
go build -o "$tmp/tcplab" ./lab/cmd/tcplab

# waitsock SOCK NAME: the daemon answers within 30 s, or the script stops.
waitsock() {
	for _ in $(seq 300); do
		DOCKER_HOST=unix://$1 timeout 5 docker version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "other-daemons: $2 did not answer on $1 within 30 s" >&2
	return 1
}

log "Podman: podman system service"
timeout 2h podman system service --time=0 "unix://$tmp/podman.sock" >"$tmp/podman.log" 2>&1 &
cleanup+=("kill $!; wait $! 2>/dev/null")
# Podman's DNS server for its networks outlives the service (and would
# keep every file descriptor it inherited open): it goes too, unless it
# was there before.
pgrep -x aardvark-dns >/dev/null || cleanup+=("pkill -x aardvark-dns")
waitsock "$tmp/podman.sock" "podman system service" || { cat "$tmp/podman.log" >&2; exit 1; }
if iptables -S DOCKER-USER >/dev/null 2>&1; then
	iptables -I DOCKER-USER -i podman+ -o podman+ -j ACCEPT
	cleanup+=("iptables -D DOCKER-USER -i podman+ -o podman+ -j ACCEPT")
fi

log "rootless Docker: dockerd-rootless.sh as tcplab-rootless"
user=tcplab-rootless
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user" # useradd adds its /etc/subuid range
grep -q "^$user:" /etc/subuid || echo "$user:100000:65536" >>/etc/subuid
grep -q "^$user:" /etc/subgid || echo "$user:100000:65536" >>/etc/subgid
tunmode=$(stat -c %a /dev/net/tun)
chmod 666 /dev/net/tun
cleanup+=("chmod $tunmode /dev/net/tun")
rl=$tmp/rootless
mkdir -p "$rl/run" "$rl/data"
chown -R "$user" "$rl"
chmod 700 "$rl/run"
su "$user" -s /bin/bash -c "cd; export XDG_RUNTIME_DIR=$rl/run PATH=/usr/share/docker.io/contrib:/usr/sbin:/usr/bin:/sbin:/bin; exec setsid timeout 2h dockerd-rootless.sh --data-root $rl/data" >"$tmp/rootless.log" 2>&1 &
cleanup+=("pkill -u $user -f 'dockerd|rootlesskit|containerd|slirp4netns' ; sleep 1; pkill -9 -u $user 2>/dev/null; rm -rf $rl")
waitsock "$rl/run/docker.sock" "rootless dockerd" || { tail -5 "$tmp/rootless.log" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
rc=0
for host in docker podman rootless; do
	case $host in
	docker) sock=${DOCKER_HOST:-} ;;
	podman) sock=unix://$tmp/podman.sock ;;
	rootless) sock=unix://$rl/run/docker.sock ;;
	esac
	version=$(DOCKER_HOST=$sock docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
	if [ "$host" != docker ]; then
		log "$host ($version): go test -run $subset ./tests/"
		# Each test's PASS or SKIP line: a test that skipped proved nothing.
		DOCKER_HOST=$sock go test -count=1 -timeout 20m -v -run "$subset" ./tests/ | grep -E '^(--- |ok|FAIL)' || rc=1
	fi
	log "$host ($version): tcplab run ${scenarios[*]}"
	hrc=0
	DOCKER_HOST=$sock "$tmp/tcplab" run "${scenarios[@]}" --out "$out/$host" >"$tmp/$host.out" 2>&1 || hrc=$?
	tail -n 30 "$tmp/$host.out"
	left=$(DOCKER_HOST=$sock docker ps -aq --filter label=tcplab.session | wc -l)
	echo "$host: $version, exit $hrc, $left lab containers left" >>"$out/daemons.txt"
	[ "$hrc" = 0 ] && [ "$left" = 0 ] || rc=1
done
log "one report, a column per daemon: $out/merged"
"$tmp/tcplab" report "$out/docker" "$out/podman" "$out/rootless" --out "$out/merged" || rc=1
cat "$out/daemons.txt"
exit "$rc"
