package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenario"
)

// §4 Socket options.

func TestOptNoDelay(t *testing.T) {
	t.Parallel()
	r := run(t, "opt-nodelay", nil)
	off, on := r.Num("nodelay_false_p50_ms"), r.Num("nodelay_true_p50_ms")
	// Linux's delayed-ACK timer is TCP_DELACK_MIN = 40 ms while the RTT is
	// below it: Nagle holds the second Write for exactly one such timeout.
	assert.InDelta(t, 40, off, 40, "NoDelay=false p50 near the 40 ms delayed ACK")
	assert.GreaterOrEqual(t, off, 35.0)
	assert.Less(t, on, 20.0, "NoDelay=true never waits for the ACK")
	assert.Greater(t, off-on, 30.0)
	assert.GreaterOrEqual(t, r.Num("rounds"), 50.0)
	assert.Equal(t, 1.0, r.Num("go_default_tcp_nodelay"), "Go sets TCP_NODELAY by default")
}

func TestOptLinger(t *testing.T) {
	t.Parallel()
	r := run(t, "opt-linger", nil)
	assert.Equal(t, "ECONNRESET", r.Err("linger0_read").Kind)
	assert.Contains(t, r.Err("linger0_read").Text, "connection reset by peer")
	assert.Equal(t, "EOF", r.Err("default_read").Kind)
}

func TestOptKeepAlive(t *testing.T) {
	t.Parallel()
	r := run(t, "opt-keepalive", nil)
	e := r.Err("read_error")
	assert.Equal(t, "ETIMEDOUT", e.Kind)
	assert.Contains(t, e.Text, "connection timed out")
	want := 1*time.Second + 3*1*time.Second // idle + interval×count
	got := millis(r.Num("read_failed_after_ms"))
	assert.GreaterOrEqual(t, got, want-50*time.Millisecond)
	assert.LessOrEqual(t, got, want+want/8+250*time.Millisecond)
	assert.Equal(t, "nftables", r.Mechanism)
	for _, k := range []string{"go_default_dialed", "go_default_accepted"} {
		var ka struct {
			Enabled   bool `json:"enabled"`
			IdleS     int  `json:"idle_s"`
			IntervalS int  `json:"interval_s"`
			Count     int  `json:"count"`
		}
		r.Decode(k, &ka)
		// Go ≥ 1.23: keep-alive on, 15 s idle, 15 s interval, 9 probes.
		assert.True(t, ka.Enabled, k)
		assert.Equal(t, 15, ka.IdleS, k)
		assert.Equal(t, 15, ka.IntervalS, k)
		assert.Equal(t, 9, ka.Count, k)
	}
}

func TestOptBuffers(t *testing.T) {
	t.Parallel()
	r := run(t, "opt-buffers", nil)
	rmax, wmax := int(r.Num("rmem_max")), int(r.Num("wmem_max"))
	var rows []struct {
		Requested int `json:"requested"`
		RcvBuf    int `json:"so_rcvbuf"`
		SndBuf    int `json:"so_sndbuf"`
	}
	r.Decode("buffers", &rows)
	assert.Len(t, rows, 4)
	for _, row := range rows {
		assert.Equal(t, 2*min(row.Requested, rmax), row.RcvBuf, "requested %d", row.Requested)
		assert.Equal(t, 2*min(row.Requested, wmax), row.SndBuf, "requested %d", row.Requested)
	}
	var blocked []struct {
		SndBuf  int `json:"so_sndbuf"`
		Written int `json:"written_before_block"`
	}
	r.Decode("write_block", &blocked)
	for i := 1; i < len(blocked); i++ {
		assert.Greater(t, blocked[i].Written, blocked[i-1].Written, "bytes written before Write blocks rise with SO_SNDBUF")
	}
}

func TestOptReuseAddr(t *testing.T) {
	t.Parallel()
	for _, s := range []int{128, 512} {
		t.Run(fmt.Sprintf("somaxconn=%d", s), func(t *testing.T) {
			r := run(t, "opt-reuseaddr", scenario.Knobs{"server.somaxconn": fmt.Sprint(s)})
			assert.GreaterOrEqual(t, r.Num("time_wait_before_restart"), 5.0)
			assert.Equal(t, "", r.Observations["listen_error"])
			assert.Contains(t, r.Observations["listen_without_reuseaddr"], "address already in use")
			assert.Equal(t, float64(s), r.Num("listener_backlog"), "Go's backlog is the container's somaxconn")
			assert.Equal(t, "none", r.Err("dial_after_restart").Kind)
		})
	}
}
