//go:build !linux

package harness

import "os/exec"

// dieWithParent does nothing where the kernel has no parent-death signal
// (macOS, Windows): a go build outliving a killed tcplab finishes on its
// own, into a scratch directory that the next start or clean removes.
func dieWithParent(*exec.Cmd) {}
