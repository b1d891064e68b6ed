#!/usr/bin/env bash
# Lets this amd64 Docker host run linux/arm64 containers under qemu-user
# emulation, so the lab's arm64 images are proven here and not assumed.
# Idempotent: it installs and registers only what is missing, and does
# nothing where arm64 binaries already run (an arm64 host, or emulation
# registered before). The qemu-aarch64 entry is registered with flag F (the
# interpreter is opened at registration), so it works inside containers.
set -euo pipefail
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
case "$(uname -m)" in aarch64|arm64) echo "arm64-emulation: native arm64 host, nothing to do"; exit 0;; esac
if [ -f "$entry" ] && grep -q '^enabled' "$entry" && grep -q '^flags:.*F' "$entry"; then
  echo "arm64-emulation: qemu-aarch64 already registered ($(grep '^interpreter' "$entry"))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "arm64-emulation: registering binfmt_misc needs root (or: docker run --privileged tonistiigi/binfmt --install arm64 where a registry is reachable)" >&2
  exit 1
fi
if ! command -v update-binfmts >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --enable >/dev/null
if [ ! -f "$entry" ] || ! grep -q '^enabled' "$entry"; then
  echo "arm64-emulation: qemu-aarch64 is not registered after update-binfmts" >&2
  exit 1
fi
grep -q '^flags:.*F' "$entry" || echo "arm64-emulation: warning: qemu-aarch64 lacks flag F; containers may not find the interpreter" >&2
echo "arm64-emulation: registered $(grep '^interpreter' "$entry") ($(grep '^flags' "$entry"))"
