package scenarios

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/kernel"
	"github.com/tcplab/tcplab/lab/scenario"
)

// optBuffers: SetReadBuffer/SetWriteBuffer set SO_RCVBUF/SO_SNDBUF; Linux
// stores twice the value (half is bookkeeping overhead), capped at the
// host-wide net.core.rmem_max/wmem_max, which a container cannot change.
// A larger send buffer lets more bytes be written before Write blocks on a
// peer that does not read.
var optBuffers = &scenario.Scenario{
	ID:      "opt-buffers",
	Section: "4 Socket options",
	Title:   "SetReadBuffer/SetWriteBuffer: the kernel doubles, capped by rmem_max/wmem_max",
	Timeout: 60 * time.Second,
	Weight:  fixed(3 * time.Second),
	Knobs: []scenario.Knob{
		{Name: "client.block_after", Default: "300ms", Kind: scenario.Duration, Min: 0.05, Max: 5,
			Help: "a Write that makes no progress for this long counts as blocked"},
	},
	Obs:    scenario.ObsOf[OptBuffersObs](),
	Server: acceptAll, // never reads
	Client: func(e *scenario.Env) error {
		rmax, err1 := sysctlNum("net.core.rmem_max")
		wmax, err2 := sysctlNum("net.core.wmem_max")
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		var rows []BufferRow
		for _, req := range []int{8 << 10, 64 << 10, 1 << 20, 8 << 20} {
			c, err := dialTCP(e)
			if err != nil {
				return err
			}
			err = errors.Join(c.SetReadBuffer(req), c.SetWriteBuffer(req))
			rcv, err1 := sockInt(c, soRcvBuf)
			snd, err2 := sockInt(c, soSndBuf)
			c.Close()
			if err := errors.Join(err, err1, err2); err != nil {
				return err
			}
			rows = append(rows, BufferRow{Requested: req, RcvBuf: rcv, SndBuf: snd})
		}

		// Bytes written to a non-reading peer before Write blocks, for
		// three send buffers: the server's receive buffer is the same each
		// time, so the totals move with SO_SNDBUF alone.
		var blocked []BlockRow
		for _, req := range []int{16 << 10, 64 << 10, 256 << 10} {
			r, err := bytesBeforeBlock(e, req, e.Knobs.Duration("client.block_after"))
			if err != nil {
				return err
			}
			blocked = append(blocked, r)
		}
		return e.Record(&OptBuffersObs{RmemMax: rmax, WmemMax: wmax, Buffers: rows, WriteBlock: blocked})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *OptBuffersObs, v *scenario.Verdict) {
		// sock_setsockopt: SO_RCVBUF/SO_SNDBUF = 2 × min(requested,
		// rmem_max/wmem_max), exactly (half is bookkeeping overhead).
		doubled := len(o.Buffers) == 4
		var granted string
		for _, r := range o.Buffers {
			doubled = doubled && r.RcvBuf == 2*min(r.Requested, o.RmemMax) && r.SndBuf == 2*min(r.Requested, o.WmemMax)
			granted += fmt.Sprintf(" %dK→%dK/%dK", r.Requested>>10, r.RcvBuf>>10, r.SndBuf>>10)
		}
		v.Expect("SO_RCVBUF/SO_SNDBUF read back as 2 × min(requested, rmem_max/wmem_max), for 4 sizes", doubled,
			"%+v (rmem_max %d, wmem_max %d)", o.Buffers, o.RmemMax, o.WmemMax)
		if len(o.WriteBlock) != 3 {
			v.Expect("three write-block runs", false, "%d", len(o.WriteBlock))
			return
		}
		sndDoubled, sums, counted := true, true, true
		for _, r := range o.WriteBlock {
			sndDoubled = sndDoubled && r.SndBuf == 2*min(r.Requested, o.WmemMax)
			counted = counted && r.Acked >= 0
			// What the Writes returned is what the kernel took: acked by
			// the server (held in its receive queue) plus the send queue.
			sums = sums && r.Written == r.Acked+r.SendQueue
		}
		v.Expect("write-block: SO_SNDBUF is 2 × the requested", sndDoubled, "%+v", o.WriteBlock)
		if !counted {
			v.Unmeasured("bytes written = acked by the peer + send queue", scenario.NoTCPInfoCounters, "%+v", o.WriteBlock)
			v.Headline("requested→SO_RCVBUF/SO_SNDBUF:%s (rmem_max %dK, wmem_max %dK)", granted, o.RmemMax>>10, o.WmemMax>>10)
			return
		}
		v.Expect("bytes written = acked by the peer + send queue, exactly", sums, "%+v", o.WriteBlock)
		// The server's part is what its receive buffer holds: it never
		// reads, and the window it advertises is at most its buffer
		// (tcp_rmem's default, pinned), at least half of it (the
		// per-skb overhead is less than the payload). Measured 126984
		// and 127992 of 131072.
		rmem := tcpRmemDefault(k.Str("server.tcp_rmem"))
		// The send queue fills until its buffers' truesize reaches
		// SO_SNDBUF (sk_stream_memory_free): at least half of it is
		// payload, and the last copy may overshoot it by up to one skb,
		// whose size goal is at most 64 KiB (GSO). Measured 0.78, 1.20
		// and 0.86 × SO_SNDBUF.
		peer, inSnd := true, true
		for _, r := range o.WriteBlock {
			peer = peer && r.Acked <= rmem && 2*r.Acked >= rmem
			inSnd = inSnd && r.SendQueue <= r.SndBuf+64<<10 && 2*r.SendQueue >= r.SndBuf
		}
		v.Expect("the peer takes rmem/2 … rmem bytes each time (its receive buffer, tcp_rmem's default)", peer, "tcp_rmem default %d: %+v", rmem, o.WriteBlock)
		v.Expect("Write blocks with SO_SNDBUF/2 … SO_SNDBUF + 64 KiB in the send queue", inSnd, "%+v", o.WriteBlock)
		b := o.WriteBlock
		v.Headline("requested→SO_RCVBUF/SO_SNDBUF:%s (rmem_max %dK, wmem_max %dK); written before block: %d/%d/%d KiB (peer %d KiB + send queue)",
			granted, o.RmemMax>>10, o.WmemMax>>10, b[0].Written>>10, b[1].Written>>10, b[2].Written>>10, b[0].Acked>>10)
	}),
	Article: "the article only listed SetReadBuffer/SetWriteBuffer; its 679,468-byte write-block figure was macOS's buffers",
}

// bytesBeforeBlock dials, sets SO_SNDBUF from sndbuf, and writes 64 KiB
// chunks to the non-reading server until one makes no progress for
// blockAfter; it returns the bytes the Writes took, the SO_SNDBUF in
// force and the kernel's split of those bytes (Acked −1 where tcp_info
// has no counters).
func bytesBeforeBlock(e *scenario.Env, sndbuf int, blockAfter time.Duration) (BlockRow, error) {
	r := BlockRow{Requested: sndbuf}
	c, err := dialTCP(e)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if err := c.SetWriteBuffer(sndbuf); err != nil {
		return r, err
	}
	if r.SndBuf, err = sockInt(c, soSndBuf); err != nil {
		return r, err
	}
	chunk := make([]byte, 64<<10)
	for r.Written < 64<<20 {
		if err := c.SetWriteDeadline(time.Now().Add(blockAfter)); err != nil {
			return r, err
		}
		n, err := c.Write(chunk)
		r.Written += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			info, err := tcpInfo(c)
			if err != nil {
				return r, err
			}
			_, outq, err := queues(c)
			r.Acked, r.SendQueue = ackedData(info), outq
			if info.BytesAcked == 0 {
				r.Acked = -1
			}
			return r, err
		}
		if err != nil {
			return r, err
		}
	}
	return r, fmt.Errorf("64 MiB written and Write never blocked")
}

// tcpRmemDefault is the default (middle) of a tcp_rmem triple, 0 when it
// is not one.
func tcpRmemDefault(triple string) int {
	f := strings.Fields(triple)
	if len(f) != 3 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// sysctlNum reads a numeric sysctl as this container sees it.
func sysctlNum(name string) (int, error) {
	v, ok := kernel.Sysctl(name)
	if !ok {
		return 0, fmt.Errorf("sysctl %s is not visible here", name)
	}
	return strconv.Atoi(v)
}

// OptBuffersObs is what opt-buffers observed.
type OptBuffersObs struct {
	RmemMax int         `json:"rmem_max" tcplab:"exact"` // net.core.rmem_max, host-wide
	WmemMax int         `json:"wmem_max" tcplab:"exact"`
	Buffers []BufferRow `json:"buffers"` // SetReadBuffer/SetWriteBuffer read back
	// WriteBlock: per SetWriteBuffer size, the bytes written before a
	// Write to a non-reading peer blocked.
	WriteBlock []BlockRow `json:"write_block"`
}

// BufferRow is one requested buffer size and what the kernel made of it.
type BufferRow struct {
	Requested int `json:"requested" tcplab:"exact"`
	RcvBuf    int `json:"so_rcvbuf" tcplab:"headline,exact"`
	SndBuf    int `json:"so_sndbuf" tcplab:"exact"`
}

// BlockRow is one Write-until-blocked run.
type BlockRow struct {
	Requested int `json:"requested" tcplab:"exact"` // SetWriteBuffer
	SndBuf    int `json:"so_sndbuf" tcplab:"exact"`
	Written   int `json:"written_before_block" tcplab:"exact"` // what the Writes returned, summed
	// Acked: tcpi_bytes_acked less the SYN, the bytes the non-reading
	// peer took (−1 where tcp_info has no counters); SendQueue: SIOCOUTQ.
	Acked     int `json:"acked" tcplab:"exact"`
	SendQueue int `json:"send_queue" tcplab:"exact"`
}
