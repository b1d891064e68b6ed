package tests

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenario"
)

// §4 Socket options. The scenarios' verdicts judge each run (run requires
// every check).

// opt-nodelay is Quiet (a 40 ms timer a busy CPU skews): the harness
// paces the start-ups beside it.
func TestOptNoDelay(t *testing.T) {
	t.Parallel()
	run(t, "opt-nodelay", nil)
}

func TestOptLinger(t *testing.T) {
	t.Parallel()
	run(t, "opt-linger", nil)
}

func TestOptKeepAlive(t *testing.T) {
	t.Parallel()
	r := run(t, "opt-keepalive", nil)
	// The harness, not the scenario: the drop rule is nftables'.
	assert.Equal(t, "nftables", r.Mechanism)
}

func TestOptBuffers(t *testing.T) {
	t.Parallel()
	run(t, "opt-buffers", nil)
}

func TestOptReuseAddr(t *testing.T) {
	t.Parallel()
	for _, s := range []int{128, 512} {
		t.Run(fmt.Sprintf("somaxconn=%d", s), func(t *testing.T) {
			t.Parallel()
			run(t, "opt-reuseaddr", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)})
		})
	}
}
