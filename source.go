// Package tcplab carries the lab's own source tree, so that an installed
// CLI (go install github.com/tcplab/tcplab/lab/cmd/tcplab) run outside a
// checkout can still build the Linux binary the lab's containers run, for
// the Docker daemon's architecture (lab/harness/source.go). The files are
// the ones images/tcplab/Dockerfile copies.
package tcplab

import "embed"

// Source holds go.mod, go.sum, lab/ and compose/.
//
//go:embed go.mod go.sum lab compose
var Source embed.FS
