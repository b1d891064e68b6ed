package tests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/egress"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// §6 The network in between: Docker's userland port proxy.

func TestProxyBacklog(t *testing.T) {
	t.Parallel()
	const backlog, dials = 4, 10
	r := run(t, "proxy-backlog", scenario.Knobs{"server.backlog": "4", "client.dials": "10"})
	assert.Equal(t, egress.None, r.RouteOut, "the published network's gateway is cut like any other")
	o := obs[scenarios.ProxyBacklogObs](t, r)
	assert.Equal(t, scenarios.ProxyMechanism, o.Mechanism)
	assert.Equal(t, dials, o.Succeeded, "the proxy accepts every dial itself")
	// backlog+1 backend dials complete into the accept queue; one whose
	// handshake races the full queue completes on the proxy's side only,
	// and hangs too (a CI run saw 6 of 10).
	assert.GreaterOrEqual(t, o.Hung, backlog+1, "backlog+1 backend dials completed into the accept queue")
	assert.Contains(t, []int64{int64(backlog + 1), int64(backlog + 2)}, o.BackendAcceptQueue, "backlog+1, or +2 when two final ACKs race")
	assert.Equal(t, int64(backlog), o.BackendBacklog)
	assert.Equal(t, dials, o.Hung+o.Ended)
	assert.Positive(t, o.Ended, "serial dials: the queue is full before the last of them")
	// tcp_syn_retries=1 gives up at 3 s with or without linear timeouts.
	giveUp := scenario.SynGiveUp(1)
	assert.Equal(t, giveUp, millis(o.BackendGiveUpMS))
	require.Len(t, o.Conns, dials)
	for i, c := range o.Conns {
		require.NotNil(t, c.Read, "conn %d was dialled", i)
		assert.Zero(t, c.ReadN, "the backend never sends")
		switch c.Fate {
		case scenarios.FateHung:
			assert.Equal(t, "ErrDeadlineExceeded", c.Read.Kind)
			assert.True(t, scenario.OnTime(millis(c.ReadMS), millis(o.HoldMS), 0, 250*time.Millisecond), "conn %d hung until its deadline: %v ms", i, c.ReadMS)
		case scenarios.FateEnded:
			assert.Contains(t, []string{"EOF", "ECONNRESET"}, c.Read.Kind)
			_, ok := scenario.OnSynSlot(millis(c.ReadMS), []time.Duration{giveUp})
			assert.Truef(t, ok, "conn %d ended at %.0f ms: at the backend dial's give-up (%v), never early", i, c.ReadMS, giveUp)
		default:
			t.Errorf("conn %d: fate %q", i, c.Fate)
		}
	}
	require.Len(t, o.ProxyLog, o.Ended)
	for _, l := range o.ProxyLog {
		assert.Equal(t, "ETIMEDOUT", l.Error.Kind, "the proxy's own dial timed out on the server's SYN schedule")
	}
	publishedBacklog(t, o.Published, backlog, dials)
}

// publishedBacklog asserts the host's view through Docker's own
// publishing, whichever mechanism the host has (the result says which).
func publishedBacklog(t *testing.T, p *scenarios.PublishedObs, backlog, dials int) {
	t.Helper()
	require.NotNil(t, p, "the harness publishes the port and probes it from the host")
	assert.Equal(t, "tcplab.published=true", p.Network)
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, p.Addr)
	require.Len(t, p.Conns, dials)
	switch p.Mechanism {
	case "docker-proxy":
		assert.Equal(t, dials, p.Succeeded, "docker-proxy accepts every dial: the backlog is invisible")
		assert.GreaterOrEqual(t, p.Hung, backlog+1)
		assert.Equal(t, dials, p.Hung+p.Ended)
	case "iptables-dnat":
		assert.Equal(t, backlog+1, p.Succeeded, "without a userland proxy the real backlog shows")
		assert.Equal(t, backlog+1, p.Hung)
	default:
		t.Errorf("published port mechanism %q", p.Mechanism)
	}
}

func TestProxyRefused(t *testing.T) {
	t.Parallel()
	const dials = 5
	o := obs[scenarios.ProxyRefusedObs](t, run(t, "proxy-refused", scenario.Knobs{"client.dials": "5"}))
	assert.Equal(t, "ECONNREFUSED", o.Direct.Kind, "the same port dialled directly is refused")
	assert.Equal(t, dials, o.Succeeded, "through the proxy every dial succeeds")
	assert.Equal(t, dials, o.Ended)
	assert.Less(t, o.SlowestReadMS, 100.0)
	for i, c := range o.Conns {
		require.NotNil(t, c.Read, "conn %d was dialled", i)
		assert.Contains(t, []string{"EOF", "ECONNRESET"}, c.Read.Kind, "conn %d: not ECONNREFUSED", i)
	}
	require.Len(t, o.ProxyLog, dials)
	for _, l := range o.ProxyLog {
		assert.Equal(t, "ECONNREFUSED", l.Error.Kind, "the proxy itself was refused")
	}
	p := o.Published
	require.NotNil(t, p)
	assert.Equal(t, "tcplab.published=true", p.Network)
	switch p.Mechanism {
	case "docker-proxy":
		assert.Equal(t, dials, p.Succeeded)
		assert.Equal(t, dials, p.Ended)
	case "iptables-dnat":
		assert.Zero(t, p.Succeeded, "without a userland proxy the host's dial is refused")
	default:
		t.Errorf("published port mechanism %q", p.Mechanism)
	}
}
