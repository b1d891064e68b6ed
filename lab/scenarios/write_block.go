package scenarios

import (
	"fmt"
	"time"

	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// writeBlock: a peer that does not read lets a writer fill its receive
// buffer and then the writer's send buffer; the next Write blocks. How many
// bytes that is depends only on the two buffers, so the driver repeats it
// on a few connections and, where the buffers in force were the same,
// expects the same total. The count is the kernel's (acknowledged + queued
// bytes), since the blocked Write has not returned its n yet; write-timeout
// and write-partial-peer-dies show Go's n adds up to the same. Then the
// server reads (60000 bytes every read_every, the article's server5) and
// the same Write goes on.
var writeBlock = &scenario.Scenario{
	ID:      "write-block",
	Section: "3 Read and Write",
	Title:   "peer does not read, client writes 64 KiB chunks: bytes accepted before Write blocks, per buffer setting",
	Timeout: 90 * time.Second,
	Knobs: writeKnobs(
		scenario.Knob{Name: "client.repeats", Default: "5", Kind: scenario.Int, Min: 1, Max: 50, Help: "connections measured one after another"},
		scenario.Knob{Name: "server.read_every", Default: "250ms", Kind: scenario.Duration, Min: 0.05, Max: 10},
		scenario.Knob{Name: "server.read_size", Default: "60000", Kind: scenario.Int, Min: 1, Max: 1 << 24},
	),
	Cases: []scenario.Knobs{
		{}, // the kernel's default tcp_wmem/tcp_rmem (pinned in every container), autotuning free
		{"client.tcp_wmem": "4096 16384 32768", "server.tcp_rmem": "4096 16384 16384"},
		{"client.write_buffer": "32768", "server.read_buffer": "16384"},
	},
	Obs:    scenario.ObsOf[WriteBlockObs](),
	Server: sink("read"),
	Client: func(e *scenario.Env) error {
		every := e.Knobs.Duration("server.read_every")
		var blocks []block
		var resumed, chunkAfter []float64
		var resumeBound []time.Duration
		peerMatches, bothQueues := true, true
		var progress [][2]float64
		for i := range e.Knobs.Int("client.repeats") {
			c, w, b, err := fillUntilBlocked(e, i, 0)
			if err != nil {
				return err
			}
			if i == 0 {
				progress = w.progress
			}
			peerMatches = peerMatches && b.PeerInQ == b.InPeer
			// Write parks only when its send buffer is full: the send queue
			// holds at least half of SO_SNDBUF in data (Linux doubles the
			// request to cover skb overhead), and the peer, whose window
			// closed, holds data but no more than its SO_RCVBUF. These hold
			// whatever the buffers, autotuned or not.
			bothQueues = bothQueues && 2*b.InSendQ >= b.SndBuf && b.PeerInQ > 0 && b.PeerInQ <= b.RcvBuf
			blocks = append(blocks, b)
			// The same Write stays parked until the server's reads open
			// the window and the ACKs free send buffer.
			start := time.Now()
			if err := e.Signal(fmt.Sprintf("c%d/go", i)); err != nil {
				c.Close()
				return err
			}
			if err := waitUntil(e, every+step, "kernel takes more bytes after the server reads", func() (bool, error) {
				acc, err := accepted(c)
				return acc > b.Accepted, err
			}); err != nil {
				c.Close()
				return fmt.Errorf("connection %d: %w", i, err)
			}
			resumed = append(resumed, scenario.Ms(time.Since(start)))
			resumeBound = append(resumeBound, resumeWithin(start.Sub(b.since), every))
			if err := waitUntil(e, 20*time.Second, "the blocked Write completes after the server reads", func() (bool, error) {
				return int(w.writes.Load()) > b.Writes, nil
			}); err != nil {
				c.Close()
				return fmt.Errorf("connection %d: %w", i, err)
			}
			chunkAfter = append(chunkAfter, scenario.Ms(time.Since(start)))
			c.Close()
		}
		totals, sameBufs := []int{}, true
		for _, b := range blocks {
			totals = append(totals, b.Accepted)
			sameBufs = sameBufs && b.SndBuf == blocks[0].SndBuf && b.RcvBuf == blocks[0].RcvBuf
		}
		common, count := mode(totals)
		early, late := false, false
		for i, ms := range resumed {
			early = early || ms < scenario.Ms(every)
			late = late || millis(ms) > resumeBound[i]
		}
		wmem, _ := kernel.Sysctl("net.ipv4.tcp_wmem")
		if err := e.Record(&WriteBlockObs{ClientTCPWmem: wmem, Blocks: blocks, BytesBeforeBlock: common, BytesBeforeBlockPerConn: totals,
			Progress: progress, CommonCount: count, SoSndBuf: blocks[0].SndBuf, SoRcvBuf: blocks[0].RcvBuf,
			ResumedAfterMS: resumed, BlockedWriteDoneAfterMS: chunkAfter}); err != nil {
			return err
		}
		// That Write blocks on every connection is not a check here: a
		// connection whose Write never blocks ends the run with an error.
		e.Expect("the bytes acknowledged sit unread in the server's receive queue", peerMatches, "blocks %+v", blocks)
		e.Expect("at the block the send queue holds ≥ SO_SNDBUF/2 and the peer 0 < unread ≤ SO_RCVBUF", bothQueues, "blocks %+v", blocks)
		// With autotuning the buffers differ between connections and so
		// may the totals: then there is nothing to compare.
		if sameBufs {
			e.Expect("same buffers in force → "+stableNote, 2*count > len(totals), "totals %v", totals)
		}
		e.Expect("the writer resumes once the server reads (read_every … next zero-window probe)", !early && !late,
			"kernel took more bytes after %v ms, bounds %v; server reads every %v", resumed, resumeBound, every)
		e.Headline("SO_SNDBUF %d, SO_RCVBUF %d → %d bytes before Write blocked (%d of %d connections; all: %v); resumed %v ms after the server was told to read",
			blocks[0].SndBuf, blocks[0].RcvBuf, common, count, len(totals), totals, resumed)
		return nil
	},
	Article: "macOS 2015: 679,468 bytes before Write blocked (Darwin's buffers); the lab pins and reads back both buffers",
}

// resumeWithin bounds when a writer blocked for `blocked` before the server
// was told to read (its first read is `every` later) takes bytes again. The
// receiver may send a window update when it reads; if it does not, the
// sender learns of the space from its next zero-window probe. Probes back
// off from the 200 ms minimum RTO: 0.2, 0.6, 1.4, 3 s… after the window
// closed, so the first one after the read at blocked+every comes before
// 2·(blocked+every)+200 ms. 250 ms more for scheduling.
func resumeWithin(blocked, every time.Duration) time.Duration {
	return 2*(blocked+every) + 200*time.Millisecond - blocked + 250*time.Millisecond
}

func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// WriteBlockObs is what write-block observed.
type WriteBlockObs struct {
	ClientTCPWmem string  `json:"client_tcp_wmem"`
	Blocks        []block `json:"blocks"` // one per connection, at its block
	// BytesBeforeBlock is the most common total over the connections, on
	// CommonCount of them.
	BytesBeforeBlock        int   `json:"bytes_before_block"`
	BytesBeforeBlockPerConn []int `json:"bytes_before_block_per_conn"`
	// Progress is the first connection's fill curve: [ms since its first
	// Write, bytes the kernel had taken].
	Progress    [][2]float64 `json:"progress"`
	CommonCount int          `json:"common_count"`
	SoSndBuf    int          `json:"so_sndbuf"` // of the first connection
	SoRcvBuf    int          `json:"so_rcvbuf"`
	// ResumedAfterMS: from telling the server to read until the kernel took
	// more bytes; BlockedWriteDoneAfterMS: until the blocked Write returned.
	ResumedAfterMS          []float64 `json:"resumed_after_ms"`
	BlockedWriteDoneAfterMS []float64 `json:"blocked_write_done_after_ms"`
}
