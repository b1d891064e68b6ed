package scenarios

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Filling a connection until a Write blocks, and what the buffers hold then.

// block is the state of one connection whose writer is stuck in a Write.
type block struct {
	// Accepted is the kernel's count when the Write was found blocked
	// (acknowledged + queued: accepted); the fields after it are read
	// again just after.
	Accepted int `json:"accepted"`
	InPeer   int `json:"in_peer_rcvq"` // acknowledged by the peer (tcpi_bytes_acked)
	InSendQ  int `json:"in_send_q"`    // SIOCOUTQ
	PeerInQ  int `json:"peer_inq"`     // SIOCINQ on the server: unread bytes it holds
	SndBuf   int `json:"so_sndbuf"`    // client's SO_SNDBUF in force at the block
	RcvBuf   int `json:"so_rcvbuf"`    // server's SO_RCVBUF in force at the block
	Writes   int `json:"writes_done"`  // Writes that had returned whole
}

// fillUntilBlocked dials connection i, applies client.write_buffer, writes
// client.chunk-sized Writes (each with perWrite as its deadline when > 0)
// until one blocks, and reads both sides' buffers and queues at the block.
func fillUntilBlocked(e *scenario.Env, i int, perWrite time.Duration) (*net.TCPConn, *writer, block, error) {
	var b block
	c, err := dialTCP(e)
	if err != nil {
		return nil, nil, b, err
	}
	if wb := knobInt(e.Knobs, "client.write_buffer"); wb > 0 {
		if err := c.SetWriteBuffer(wb); err != nil {
			c.Close()
			return nil, nil, b, err
		}
	}
	w := startWriter(c, e.Knobs.Int("client.chunk"), perWrite)
	if b.Accepted, _, err = w.blocked(e, c, e.Knobs.Duration("client.quiet"), 20*time.Second); err != nil {
		c.Close()
		return nil, nil, b, fmt.Errorf("connection %d: %w", i, err)
	}
	info, err := tcpInfo(c)
	if err != nil {
		c.Close()
		return nil, nil, b, err
	}
	_, b.InSendQ, _ = queues(c)
	b.InPeer = ackedData(info)
	b.SndBuf, _, _ = sockBufs(c)
	b.Writes = int(w.writes.Load())
	side, err := probeSink(e, i)
	if err != nil {
		c.Close()
		return nil, nil, b, err
	}
	b.PeerInQ, b.RcvBuf = side.InQ, side.RcvBuf
	return c, w, b, nil
}

// writeKnobs are the knobs every write scenario shares with the sink.
func writeKnobs(extra ...scenario.Knob) []scenario.Knob {
	return append([]scenario.Knob{
		knobChunk,
		{Name: "client.write_buffer", Default: "0", Kind: scenario.Int, Min: 0, Max: 64 << 20, Help: "SetWriteBuffer on the client conn; 0: not called"},
		knobSinkReadBuffer,
		{Name: "client.quiet", Default: "300ms", Kind: scenario.Duration, Min: 0.05, Max: 5,
			Help: "no byte moves for this long: the Write is blocked"},
	}, extra...)
}

// The buffers a write scenario's knobs fix. SetWriteBuffer and
// SetReadBuffer ask for SO_SNDBUF/SO_RCVBUF, which Linux doubles to cover
// its bookkeeping (and locks against autotuning). Without them:
//   - the client's SO_SNDBUF starts at tcp_wmem[1], and at the handshake
//     tcp_init_buffer_space expands it to 2 × max(10, cwnd) × per-MSS
//     truesize (roundup_pow_of_two(1460 + 2·320) + 256 = 4352 B at MTU
//     1500: 87040 B), capped at tcp_wmem[2]; it grows further with cwnd.
//     So tcp_wmem[2] is in force when it is at most 87040 or at most
//     tcp_wmem[1]; above both, cwnd decides and the knobs fix nothing.
//   - the server's SO_RCVBUF is tcp_rmem[1] while it does not read: the
//     receive autotuning grows it only as the application reads.
const sndbufAtConnect = 2 * 10 * 4352

func sndBufFor(k scenario.Knobs) (int, string) {
	if wb := knobInt(k, "client.write_buffer"); wb > 0 {
		return 2 * wb, fmt.Sprintf("2 × SetWriteBuffer(%d)", wb)
	}
	w := memTriple(k.Str("client.tcp_wmem"))
	if w[2] > 0 && (w[2] <= sndbufAtConnect || w[1] >= w[2]) {
		return w[2], fmt.Sprintf("tcp_wmem max (the expansion at connect, %d, reaches it)", sndbufAtConnect)
	}
	return 0, ""
}

func rcvBufFor(k scenario.Knobs) (int, string) {
	if rb := knobInt(k, "server.read_buffer"); rb > 0 {
		return 2 * rb, fmt.Sprintf("2 × SetReadBuffer(%d)", rb)
	}
	if r := memTriple(k.Str("server.tcp_rmem")); r[1] > 0 {
		return r[1], "tcp_rmem default (no autotuning while the server does not read)"
	}
	return 0, ""
}

// memTriple parses "min default max" as tcp_wmem/tcp_rmem have them; zeros
// if it does not parse.
func memTriple(s string) [3]int {
	var t [3]int
	f := strings.Fields(s)
	if len(f) != 3 {
		return [3]int{}
	}
	for i := range f {
		n, err := strconv.Atoi(f[i])
		if err != nil {
			return [3]int{}
		}
		t[i] = n
	}
	return t
}

// blockVerdicts judges the connections' states at their blocks.
func blockVerdicts(k scenario.Knobs, bs []block, v *scenario.Verdict) {
	chunk := k.Int("client.chunk")
	sum, peer, whole := true, true, true
	for _, b := range bs {
		// Read twice, at the quiet moment and just after: nothing moved.
		sum = sum && b.Accepted == b.InPeer+b.InSendQ
		peer = peer && b.PeerInQ == b.InPeer
		// The blocked Write is the one after the whole ones: the kernel
		// holds all of those and part (perhaps none) of it.
		whole = whole && b.Writes*chunk <= b.Accepted && b.Accepted < (b.Writes+1)*chunk
	}
	v.Expect("the kernel's count at the block = the peer's unread bytes + our send queue, read again", sum, "blocks %+v", bs)
	v.Expect("the bytes acknowledged sit unread in the server's receive queue", peer, "blocks %+v", bs)
	v.Expect("whole Writes × chunk ≤ the kernel's count < one chunk more", whole, "blocks %+v", bs)

	snd, sndWhy := sndBufFor(k)
	rcv, rcvWhy := rcvBufFor(k)
	sndOK, rcvOK := true, true
	var snds, rcvs []int
	for _, b := range bs {
		snds, rcvs = append(snds, b.SndBuf), append(rcvs, b.RcvBuf)
		sndOK = sndOK && (snd == 0 || b.SndBuf == snd)
		rcvOK = rcvOK && b.RcvBuf == rcv
	}
	if snd > 0 {
		v.Expect(fmt.Sprintf("SO_SNDBUF in force = %d, %s", snd, sndWhy), sndOK, "%v", snds)
	}
	v.Expect(fmt.Sprintf("SO_RCVBUF in force = %d, %s", rcv, rcvWhy), rcvOK, "%v", rcvs)

	// Write parks when the send queue's memory (skb truesize) reaches
	// SO_SNDBUF; the data is that less each skb's overhead.
	queued, held := true, true
	for _, b := range bs {
		queued = queued && b.InSendQ*sendqDen >= b.SndBuf*sendqLo && b.InSendQ*sendqDen <= b.SndBuf*sendqHi
		held = held && b.PeerInQ*peerDen >= b.RcvBuf*peerLo && b.PeerInQ*peerDen <= b.RcvBuf*peerHi
	}
	v.Expect(fmt.Sprintf("Write parks with a full send queue: %d … %d %% of SO_SNDBUF in data (skb overhead; the last skb may overshoot)", 100*sendqLo/sendqDen, 100*sendqHi/sendqDen),
		queued, "blocks %+v", bs)
	v.Expect(fmt.Sprintf("the peer's closed window holds %d … %d %% of its SO_RCVBUF", 100*peerLo/peerDen, 100*peerHi/peerDen),
		held, "blocks %+v", bs)
	if snd > 0 {
		// The total is then fixed by the knobs alone.
		lo, hi := snd*sendqLo/sendqDen+rcv*peerLo/peerDen, snd*sendqHi/sendqDen+rcv*peerHi/peerDen
		var totals []int
		ok := true
		for _, b := range bs {
			totals = append(totals, b.Accepted)
			ok = ok && b.Accepted >= lo && b.Accepted <= hi
		}
		v.Expect(fmt.Sprintf("pinned buffers: every total in %d … %d (from SO_SNDBUF %d and SO_RCVBUF %d)", lo, hi, snd, rcv), ok, "totals %v", totals)
	}
}

// Fractions of the buffers the queues hold at a block, from how the
// kernel accounts for them:
//   - Write parks when the send queue's skb truesize reaches SO_SNDBUF.
//     The data is at least half of it: each skb holds at least one MSS
//     (1448 B) of data, more than its own overhead (sk_buff and head,
//     about 1.2 KiB). It is at most SO_SNDBUF plus what the last skb
//     added: the kernel checks for free memory before it fills an skb
//     (sk_stream_memory_free), so that one may overshoot (69,504 bytes
//     of data at SO_SNDBUF 65,536 in one of five connections, a compose
//     run on 2026-12-04): 125 %, so that twice still fails.
//   - the peer takes data while its receive memory is below SO_RCVBUF
//     and offers a window of free space × scaling_ratio, which starts at
//     50 % (TCP_DEFAULT_SCALING_RATIO) and only rises as it measures
//     len/truesize: it holds half its SO_RCVBUF at least, all of it at
//     most.
//
// Measured on a veth pair on this kernel: 71 % of SO_SNDBUF 32 KiB, 75 %
// of 64 KiB, 81 % of 128 KiB, 89 % of 682 KiB (autotuned); the peer 79 %
// of 16 KiB, 93 % of 32 KiB, 95 % of 64 KiB, 98 % of 128 KiB.
const (
	sendqLo, sendqHi, sendqDen = 2, 5, 4
	peerLo, peerHi, peerDen    = 1, 2, 2
)
