#!/usr/bin/env bash
# Installs QEMU and downloads the Debian cloud kernels the lab boots in VMs
# (6.1 and 6.12) into the lab's kernel cache, with apt-get download: nothing
# is installed under /boot. Idempotent: a package already in the cache is kept.
# The cache is os.UserCacheDir()/tcplab/kernels (Linux: ${XDG_CACHE_HOME:-~/.cache}),
# or $TCPLAB_KERNELS when set.
set -euo pipefail
dir=${TCPLAB_KERNELS:-${XDG_CACHE_HOME:-$HOME/.cache}/tcplab/kernels}
mkdir -p "$dir"
updated=
update() { [ -n "$updated" ] || { apt-get update -qq; updated=1; }; }
if ! command -v qemu-system-x86_64 >/dev/null; then
  update
  apt-get install -y -qq qemu-system-x86 >/dev/null
fi
# The newest package of each series the archive offers.
newest() { apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -n 1; }
for pattern in '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$'; do
  pkg=$(newest "$pattern")
  if [ -z "$pkg" ]; then update; pkg=$(newest "$pattern"); fi
  [ -n "$pkg" ] || { echo "kernels: no package matches $pattern" >&2; exit 1; }
  if ls "$dir/${pkg}_"*.deb >/dev/null 2>&1; then
    echo "kernels: $pkg is already in $dir"
    continue
  fi
  (cd "$dir" && apt-get download -qq "$pkg")
  echo "kernels: downloaded $(ls "$dir/${pkg}_"*.deb)"
done
