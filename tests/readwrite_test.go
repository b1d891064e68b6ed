package tests

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/scenario"
)

// §3 Read and Write.

func TestReadNoData(t *testing.T) {
	t.Parallel()
	r := run(t, "read-no-data", scenario.Knobs{"server.delay": "1s"})
	took := millis(r.Num("returned_after_ms"))
	assert.GreaterOrEqual(t, took, time.Second, "Read cannot return before the peer sends")
	assert.Less(t, took, time.Second+250*time.Millisecond)
	assert.Equal(t, "hi", r.Observations["data"])
}

func TestReadPartial(t *testing.T) {
	t.Parallel()
	r := run(t, "read-partial", nil)
	assert.Equal(t, 2.0, r.Num("n"))
	assert.Equal(t, "none", r.Err("err").Kind)
	assert.Less(t, r.Num("returned_after_ms"), 1000.0, "Read does not wait for 10 bytes")
}

func TestReadEnough(t *testing.T) {
	t.Parallel()
	r := run(t, "read-enough", nil)
	var ns []int
	r.Decode("n", &ns)
	assert.Equal(t, []int{10, 5}, ns)
}

func TestReadCloseWithData(t *testing.T) {
	t.Parallel()
	r := run(t, "read-close-with-data", nil)
	var reads []struct {
		N    int              `json:"n"`
		Err  scenario.ErrInfo `json:"err"`
		Data string           `json:"data"`
	}
	r.Decode("reads", &reads)
	require.Len(t, reads, 2)
	assert.Equal(t, 5, reads[0].N)
	assert.Equal(t, "hello", reads[0].Data)
	assert.Equal(t, "none", reads[0].Err.Kind)
	assert.Equal(t, 0, reads[1].N)
	assert.Equal(t, "EOF", reads[1].Err.Kind)
}

func TestReadCloseNoData(t *testing.T) {
	t.Parallel()
	r := run(t, "read-close-no-data", nil)
	var read struct {
		N   int              `json:"n"`
		Err scenario.ErrInfo `json:"err"`
	}
	r.Decode("read", &read)
	assert.Equal(t, 0, read.N)
	assert.Equal(t, "EOF", read.Err.Kind)
}

func TestReadTimeout(t *testing.T) {
	t.Parallel()
	r := run(t, "read-timeout", scenario.Knobs{"client.trials": "1000"})
	zero, data, both := r.Num("zero_timeout"), r.Num("data_nil"), r.Num("data_timeout")
	t.Logf("1000 trials, 10 µs deadline: (0, timeout) %.0f, (n>0, nil) %.0f, (n>0, timeout) %.0f", zero, data, both)
	assert.Equal(t, 1000.0, zero+data+both, "every trial is one of the three")
	assert.Zero(t, both, "Go never returns data together with a timeout")
	assert.Zero(t, r.Num("other"))
	assert.Equal(t, "ErrDeadlineExceeded", r.Err("idle_timeout").Kind)
	assert.True(t, r.Err("idle_timeout").Timeout)
	assert.Equal(t, 65536.0, r.Num("read_after_timeout"), "the conn is usable after a timeout")
}

func TestWriteSuccess(t *testing.T) {
	t.Parallel()
	r := run(t, "write-success", nil)
	assert.Equal(t, 65536.0, r.Num("n"))
	assert.Equal(t, "none", r.Err("err").Kind)
	assert.Equal(t, 65536.0, r.Num("peer_received"))
}

// blockRow is one connection of write-block or a write trial at its block.
type blockRow struct {
	Accepted int `json:"accepted"`
	InPeer   int `json:"in_peer_rcvq"`
	InSendQ  int `json:"in_send_q"`
	PeerInQ  int `json:"peer_inq"`
	SndBuf   int `json:"so_sndbuf"`
	RcvBuf   int `json:"so_rcvbuf"`
}

func TestWriteBlock(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		knobs scenario.Knobs
		// pinned: the buffers cannot move during the run, so every
		// connection must block at the same total.
		pinned bool
		// wantSnd/wantRcv: SO_SNDBUF/SO_RCVBUF in force, where the setting
		// fixes them (Linux doubles SetWriteBuffer/SetReadBuffer); 0: read back only.
		wantSnd, wantRcv int
	}{
		{"kernel defaults", nil, false, 0, 0},
		{"small pinned sysctls", scenario.Knobs{"client.tcp_wmem": "4096 16384 32768", "server.tcp_rmem": "4096 16384 16384"}, true, 0, 16384},
		{"SetWriteBuffer/SetReadBuffer", scenario.Knobs{"client.write_buffer": "32768", "server.read_buffer": "16384"}, true, 65536, 32768},
	}
	// The total moves with the buffers: each setting blocks at its own.
	var mu sync.Mutex
	totals := map[string]float64{}
	t.Cleanup(func() {
		t.Logf("bytes before Write blocked: %v", totals)
		if len(totals) == len(cases) {
			seen := map[float64]string{}
			for name, v := range totals {
				assert.NotContains(t, seen, v, "%s and %s block at the same total", name, seen[v])
				seen[v] = name
			}
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "write-block", tc.knobs)
			var blocks []blockRow
			r.Decode("blocks", &blocks)
			require.Len(t, blocks, 5)
			common := r.Num("bytes_before_block")
			for _, b := range blocks {
				assert.Positive(t, b.Accepted)
				assert.Equal(t, b.InPeer+b.InSendQ, b.Accepted)
				assert.Equal(t, b.PeerInQ, b.InPeer, "acknowledged bytes wait unread at the server")
				if tc.wantSnd > 0 {
					assert.Equal(t, tc.wantSnd, b.SndBuf)
				}
				if tc.wantRcv > 0 {
					assert.Equal(t, tc.wantRcv, b.RcvBuf)
				}
				if tc.pinned {
					// A connection off the common total is off by skb
					// packing: a few segments, not a different buffer.
					assert.InDelta(t, common, float64(b.Accepted), 10*1448, "pinned buffers: totals %v", blocks)
				}
			}
			if tc.pinned {
				// With kernel defaults autotuning moves the buffers between
				// connections, so only pinned settings promise one total.
				assert.Greater(t, r.Num("common_count"), 2.0, "the common total holds on a majority of 5")
			}
			mu.Lock()
			totals[tc.name] = common
			mu.Unlock()
			var resumed []float64
			r.Decode("resumed_after_ms", &resumed)
			for _, ms := range resumed {
				assert.GreaterOrEqual(t, millis(ms), 250*time.Millisecond, "no byte moves before the server's first read")
			}
		})
	}
}

func TestWritePartialPeerDies(t *testing.T) {
	t.Parallel()
	r := run(t, "write-partial-peer-dies", nil)
	var outcomes []struct {
		N     int              `json:"n"`
		Total int              `json:"total"`
		Err   scenario.ErrInfo `json:"err"`
		Block blockRow         `json:"block"`
	}
	r.Decode("outcomes", &outcomes)
	require.Len(t, outcomes, 5)
	for _, o := range outcomes {
		assert.Equal(t, o.Total, o.Block.Accepted, "Go's running total is what the kernel had taken at the block")
		assert.Contains(t, []string{"ECONNRESET", "EPIPE"}, o.Err.Kind)
		assert.GreaterOrEqual(t, o.N, 0)
		assert.Less(t, o.N, 65536)
		assert.GreaterOrEqual(t, o.Total, o.N)
	}
	t.Logf("n>0 in %.0f of 5 trials, n=0 in %.0f", r.Num("n_positive"), r.Num("n_zero"))
}

func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	// 200 ms: a deadline long enough to time; 10 µs: the article's.
	for _, dl := range []time.Duration{200 * time.Millisecond, 10 * time.Microsecond} {
		t.Run(dl.String(), func(t *testing.T) {
			t.Parallel()
			r := run(t, "write-timeout", scenario.Knobs{"client.write_deadline": dl.String()})
			e := r.Err("error")
			assert.Equal(t, "ErrDeadlineExceeded", e.Kind)
			assert.True(t, e.Timeout)
			assert.Contains(t, e.Text, "i/o timeout")
			var outcomes []struct {
				N        int     `json:"n"`
				Total    int     `json:"total"`
				Accepted int     `json:"accepted"`
				TookMS   float64 `json:"took_ms"`
			}
			r.Decode("outcomes", &outcomes)
			require.Len(t, outcomes, 5)
			for _, o := range outcomes {
				assert.GreaterOrEqual(t, o.N, 0)
				assert.Less(t, o.N, 65536)
				assert.Equal(t, o.Accepted, o.Total, "Writes done + n is what the kernel took")
				if dl >= time.Millisecond { // took_ms has 0.1 ms resolution
					assert.GreaterOrEqual(t, millis(o.TookMS), dl, "a Write times out at its deadline, not before")
				}
			}
			t.Logf("deadline %v: n with the timeout: %v", dl, r.Observations["n_all"])
		})
	}
}
