package scenario_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

func s(secs ...float64) []time.Duration {
	out := make([]time.Duration, len(secs))
	for i, v := range secs {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

// The schedule must reproduce what this machine's kernel did: blocked dials
// failed at 3/7/15/31 s with linear timeouts off and 3/7/19/35 s with 4.
func TestSynSchedule(t *testing.T) {
	for _, tc := range []struct {
		retries, linear int
		sends           []time.Duration
		giveUp          time.Duration
	}{
		{1, 0, s(0, 1), 3 * time.Second},
		{2, 0, s(0, 1, 3), 7 * time.Second},
		{3, 0, s(0, 1, 3, 7), 15 * time.Second},
		{4, 0, s(0, 1, 3, 7, 15), 31 * time.Second},
		{1, 4, s(0, 1, 2), 3 * time.Second},
		{2, 4, s(0, 1, 2, 3, 4, 5), 7 * time.Second},
		{3, 4, s(0, 1, 2, 3, 4, 5, 7, 11), 19 * time.Second},
		{4, 4, s(0, 1, 2, 3, 4, 5, 7, 11, 19), 35 * time.Second},
	} {
		t.Run(fmt.Sprintf("R=%d,linear=%d", tc.retries, tc.linear), func(t *testing.T) {
			sends, giveUp := scenario.SynSchedule(tc.retries, tc.linear)
			assert.Equal(t, tc.sends, sends)
			assert.Equal(t, tc.giveUp, giveUp)
		})
	}
}

func TestOnSynSlot(t *testing.T) {
	slots := s(0, 1, 3, 7, 15)
	for _, tc := range []struct {
		d    time.Duration
		slot time.Duration
		ok   bool
	}{
		{20 * time.Millisecond, 0, true},
		{1040 * time.Millisecond, time.Second, true},
		{7309 * time.Millisecond, 7 * time.Second, true},   // timer wheel: late, within 1/8
		{15502 * time.Millisecond, 15 * time.Second, true}, // measured here
		{2 * time.Second, time.Second, false},              // between slots
		{995 * time.Millisecond, time.Second, true},        // one jiffy early at most
		{980 * time.Millisecond, 0, false},                 // early: after slot 0's window, before slot 1's
	} {
		slot, ok := scenario.OnSynSlot(tc.d, slots)
		assert.Equal(t, tc.slot, slot, "%v", tc.d)
		assert.Equal(t, tc.ok, ok, "%v", tc.d)
	}
}

func TestResolveKnobs(t *testing.T) {
	sc := &scenario.Scenario{ID: "x", Knobs: []scenario.Knob{
		{Name: "client.dial_timeout", Default: "2s", Kind: scenario.Duration, Min: 0.1, Max: 30},
		{Name: "impair.loss", Default: "0.5", Kind: scenario.Fraction},
	}}
	k, err := sc.Resolve(scenario.Knobs{"server.somaxconn": "16", "impair.loss": "0.3"})
	require.NoError(t, err)
	assert.Equal(t, "16", k["server.somaxconn"])
	assert.Equal(t, "2s", k["client.dial_timeout"])
	assert.Equal(t, 0.3, k.Float("impair.loss"))
	assert.Equal(t, "6", k["client.tcp_syn_retries"], "pinned by default")
	assert.Equal(t, map[string]string{"net.core.somaxconn": "16", "net.ipv4.tcp_rmem": "4096 131072 6291456",
		"net.ipv4.tcp_wmem": "4096 16384 4194304", "net.ipv4.tcp_syn_retries": "6"}, k.SysctlsFor(scenario.Server))

	for _, bad := range []scenario.Knobs{
		{"client.nope": "1"},
		{"server.rmem_max": "1"}, // host-wide: not settable per container
		{"client.dial_timeout": "soon"},
		{"client.dial_timeout": "1h"},
		{"impair.loss": "1.5"},
		{"server.somaxconn": "-1"},
	} {
		_, err := sc.Resolve(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestClassify(t *testing.T) {
	assert.Equal(t, "none", scenario.Classify(nil).Kind)
	assert.Equal(t, "EOF", scenario.Classify(io.EOF).Kind)
	op := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	assert.Equal(t, "ECONNRESET", scenario.Classify(op).Kind)
	dl := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	info := scenario.Classify(dl)
	assert.Equal(t, "ErrDeadlineExceeded", info.Kind)
	assert.True(t, info.Timeout)
}
