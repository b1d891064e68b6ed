package scenario_test

import (
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

// A role's timers late beyond the bound name the role; at or under it, or
// unmeasured, nothing is late.
func TestTimersLate(t *testing.T) {
	for _, tc := range []struct {
		late map[string]float64
		want string
	}{
		{nil, ""},
		{map[string]float64{"client": 3, "server": 0.4}, ""},
		{map[string]float64{"client": 95.9, "server": 0.4}, "client's timers fired 95.9 ms late"},
		{map[string]float64{"server": 6, "client": 3.01}, "client's timers fired 3.0 ms late, server's timers fired 6.0 ms late"},
	} {
		r := &scenario.Result{TimersLateMS: tc.late}
		got, late := r.TimersLate(3 * time.Millisecond)
		if got != tc.want || late != (tc.want != "") {
			t.Errorf("%v: %q, %v; want %q", tc.late, got, late, tc.want)
		}
	}
}
