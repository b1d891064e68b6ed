#!/usr/bin/env bash
# Builds the Docker Compose v2 plugin from its module source and prints the
# binary's path. `go install github.com/docker/compose/v2/cmd@…` fails (the
# module has exclude directives, which go install refuses), so the module is
# downloaded and built in place with its own go.mod. The binary is cached;
# nothing is installed as a plugin: use it through a DOCKER_CONFIG of your own:
#   bin=$(images/compose-v2.sh)
#   export DOCKER_CONFIG=$(mktemp -d); mkdir "$DOCKER_CONFIG/cli-plugins"
#   ln -s "$bin" "$DOCKER_CONFIG/cli-plugins/docker-compose"; docker compose version
# Progress goes to stderr, the path alone to stdout.
set -euo pipefail
version=${COMPOSE_V2_VERSION:-v2.40.3}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tcplab/compose-$version
bin=$cache/docker-compose
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "compose-v2: cached $bin" >&2
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "compose-v2: go is not installed" >&2; exit 1; }
start=$(date +%s)
echo "compose-v2: downloading github.com/docker/compose/v2@$version" >&2
dir=$(go mod download -json "github.com/docker/compose/v2@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "compose-v2: go mod download gave no source directory" >&2
  exit 1
fi
mkdir -p "$cache"
echo "compose-v2: building $dir/cmd (several minutes on 2 cores)" >&2
# The module cache is read-only; build from it with the module's own go.mod
# (its go.sum is complete), writing the binary outside it.
(cd "$dir" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOWORK=off go build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
  -o "$bin.tmp" ./cmd)
mv "$bin.tmp" "$bin"
echo "compose-v2: built $("$bin" version) in $(( $(date +%s) - start )) s" >&2
echo "$bin"
