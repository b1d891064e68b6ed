package scenarios

import (
	"fmt"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Filling a connection until a Write blocks, and what the buffers hold then.

// block is the state of one connection whose writer is stuck in a Write.
type block struct {
	Accepted   int `json:"accepted"`     // bytes the kernel took: in the peer's receive queue + in our send queue
	InPeer     int `json:"in_peer_rcvq"` // acknowledged by the peer (tcpi_bytes_acked)
	InSendQ    int `json:"in_send_q"`    // SIOCOUTQ
	PeerInQ    int `json:"peer_inq"`     // SIOCINQ on the server: unread bytes it holds
	SndBuf     int `json:"so_sndbuf"`    // client's SO_SNDBUF in force at the block
	RcvBuf     int `json:"so_rcvbuf"`    // server's SO_RCVBUF in force at the block
	Writes     int `json:"writes_done"`  // Writes that had returned whole
	WritesDone int `json:"bytes_in_writes_done"`

	since time.Time // when the last byte was taken
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
	if b.Accepted, b.since, err = w.blocked(e, c, e.Knobs.Duration("client.quiet"), 20*time.Second); err != nil {
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
	b.Writes, b.WritesDone = int(w.writes.Load()), int(w.done.Load())
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
		{Name: "client.chunk", Default: "65536", Kind: scenario.Int, Min: 1, Max: 16 << 20, Help: "bytes per Write (the article's 64 KiB)"},
		{Name: "client.write_buffer", Default: "0", Kind: scenario.Int, Min: 0, Max: 64 << 20, Help: "SetWriteBuffer on the client conn; 0: not called"},
		{Name: "server.read_buffer", Default: "0", Kind: scenario.Int, Min: 0, Max: 64 << 20, Help: "SO_RCVBUF (as SetReadBuffer) on the listener; 0: not set"},
		{Name: "client.quiet", Default: "300ms", Kind: scenario.Duration, Min: 0.05, Max: 5,
			Help: "no byte moves for this long: the Write is blocked"},
	}, extra...)
}
