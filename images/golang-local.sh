#!/usr/bin/env bash
# Makes a local golang:1.26 image from this machine's Go installation, for
# Docker hosts that cannot pull (air-gapped CI, this project's machines).
# images/tcplab/Dockerfile then builds with it like with the official image.
# It never replaces an image that is already there.
set -euo pipefail
tag=${1:-golang:1.26}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "golang-local: $tag is already there"
  exit 0
fi
goroot=$(go env GOROOT)
case "$(go env GOVERSION)" in go1.2[6-9]*|go1.[3-9]*) ;; *) echo "golang-local: need Go >= 1.26, have $(go env GOVERSION)" >&2; exit 1;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/usr/local" "$tmp/etc/ssl/certs" "$tmp/tmp" "$tmp/go" "$tmp/root"
chmod 1777 "$tmp/tmp"
cp -a "$goroot" "$tmp/usr/local/go"
rm -rf "$tmp/usr/local/go/pkg/tool/"*/{cgo,vet}.test "$tmp/usr/local/go/test" 2>/dev/null || true
cp -L /etc/ssl/certs/ca-certificates.crt "$tmp/etc/ssl/certs/"
tar -C "$tmp" -c . | docker import \
  --change 'ENV PATH=/usr/local/go/bin:/go/bin' \
  --change 'ENV GOPATH=/go' \
  --change 'ENV HOME=/root' \
  --change 'ENV GOTOOLCHAIN=local' \
  --change "ENV GOPROXY=$(go env GOPROXY)" \
  --change "ENV GOSUMDB=$(go env GOSUMDB)" \
  - "$tag" >/dev/null
echo "golang-local: made $tag from $(go env GOVERSION) at $goroot"
