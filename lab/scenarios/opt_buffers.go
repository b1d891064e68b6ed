package scenarios

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
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
		doubled := true
		for _, req := range []int{8 << 10, 64 << 10, 1 << 20, 8 << 20} {
			c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
			if err != nil {
				return err
			}
			tc := c.(*net.TCPConn)
			err = errors.Join(tc.SetReadBuffer(req), tc.SetWriteBuffer(req))
			rcv, err1 := sockInt(tc, soRcvBuf)
			snd, err2 := sockInt(tc, soSndBuf)
			c.Close()
			if err := errors.Join(err, err1, err2); err != nil {
				return err
			}
			r := BufferRow{Requested: req, RcvBuf: rcv, SndBuf: snd, WantRcv: 2 * min(req, rmax), WantSnd: 2 * min(req, wmax)}
			doubled = doubled && r.RcvBuf == r.WantRcv && r.SndBuf == r.WantSnd
			rows = append(rows, r)
		}

		// Bytes written to a non-reading peer before Write blocks, for
		// three send buffers: the server's receive buffer is the same each
		// time, so the totals move with SO_SNDBUF alone.
		var blocked []BufferRow
		rising := true
		for _, req := range []int{16 << 10, 64 << 10, 256 << 10} {
			n, snd, err := bytesBeforeBlock(e, req, e.Knobs.Duration("client.block_after"))
			if err != nil {
				return err
			}
			if len(blocked) > 0 && n <= blocked[len(blocked)-1].WrittenBlock {
				rising = false
			}
			blocked = append(blocked, BufferRow{Requested: req, SndBuf: snd, WrittenBlock: n})
		}
		if err := e.Record(&OptBuffersObs{RmemMax: rmax, WmemMax: wmax, Buffers: rows, WriteBlock: blocked}); err != nil {
			return err
		}
		e.Expect("SO_RCVBUF/SO_SNDBUF read back as 2 × min(requested, rmem_max/wmem_max)", doubled, "%+v (rmem_max %d, wmem_max %d)", rows, rmax, wmax)
		e.Expect("more send buffer, more bytes written before Write blocks", rising, "%+v", blocked)
		var granted string
		for _, r := range rows {
			granted += fmt.Sprintf(" %dK→%dK/%dK", r.Requested>>10, r.RcvBuf>>10, r.SndBuf>>10)
		}
		e.Headline("requested→SO_RCVBUF/SO_SNDBUF:%s (rmem_max %dK, wmem_max %dK); written before block: %d/%d/%d KiB",
			granted, rmax>>10, wmax>>10, blocked[0].WrittenBlock>>10, blocked[1].WrittenBlock>>10, blocked[2].WrittenBlock>>10)
		return nil
	},
	Article: "the article only listed SetReadBuffer/SetWriteBuffer; its 679,468-byte write-block figure was macOS's buffers",
}

// bytesBeforeBlock dials, sets SO_SNDBUF from sndbuf, and writes 64 KiB
// chunks to the non-reading server until one makes no progress for
// blockAfter; it returns the bytes accepted and the SO_SNDBUF in force.
func bytesBeforeBlock(e *scenario.Env, sndbuf int, blockAfter time.Duration) (total, granted int, err error) {
	c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	if err := tc.SetWriteBuffer(sndbuf); err != nil {
		return 0, 0, err
	}
	granted, _ = sockInt(tc, soSndBuf)
	chunk := make([]byte, 64<<10)
	for total < 64<<20 {
		if err := c.SetWriteDeadline(time.Now().Add(blockAfter)); err != nil {
			return 0, 0, err
		}
		n, err := c.Write(chunk)
		total += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return total, granted, nil
		}
		if err != nil {
			return total, granted, err
		}
	}
	return total, granted, fmt.Errorf("64 MiB written and Write never blocked")
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
	RmemMax int         `json:"rmem_max"` // net.core.rmem_max, host-wide
	WmemMax int         `json:"wmem_max"`
	Buffers []BufferRow `json:"buffers"` // SetReadBuffer/SetWriteBuffer read back
	// WriteBlock: per SetWriteBuffer size, the bytes written before a
	// Write to a non-reading peer blocked.
	WriteBlock []BufferRow `json:"write_block"`
}

// BufferRow is one requested buffer size and what the kernel made of it.
type BufferRow struct {
	Requested    int `json:"requested"`
	RcvBuf       int `json:"so_rcvbuf"`
	SndBuf       int `json:"so_sndbuf"`
	WantRcv      int `json:"want_rcvbuf"` // 2 × min(requested, rmem_max)
	WantSnd      int `json:"want_sndbuf"`
	WrittenBlock int `json:"written_before_block,omitempty"`
}
