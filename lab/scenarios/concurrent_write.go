package scenarios

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// concurrentWrite: K goroutines share one conn and write framed messages of
// 16 B to 4 MiB, each with one Write. Go's netFD holds the fd's write lock
// for the whole Write, looping over as many write(2) calls as the socket
// buffer needs, so no other goroutine's bytes can land inside a message.
// The socket buffers are capped at 1 MiB so the 4 MiB messages span many
// syscalls.
var concurrentWrite = &scenario.Scenario{
	ID:      "concurrent-write",
	Section: "3 Read and Write",
	Title:   "K goroutines share a conn, one Write per message: every message arrives whole",
	Timeout: 90 * time.Second,
	Knobs:   concurrentWriteKnobs,
	Obs:     scenario.ObsOf[ConcurrentWriteObs](),
	Server:  readAndCheck,
	Client:  concurrentWriteDriver(false),
	Article: "the article argued it from netFD's fdMutex; the lab counts intact messages",
}

var concurrentWriteKnobs = []scenario.Knob{
	{Name: "client.writers", Default: "8", Kind: scenario.Int, Min: 8, Max: 64, Help: "goroutines sharing the conn"},
	{Name: "client.messages", Default: "10", Kind: scenario.Int, Min: 1, Max: 100, Help: "messages per goroutine"},
	{Name: "client.max_size", Default: "4194304", Kind: scenario.Int, Min: 16, Max: 16 << 20,
		Help: "largest payload; sizes are 16·4^i bytes up to it"},
	{Name: "client.tcp_wmem", Default: "4096 16384 1048576", Kind: scenario.Text, Help: "caps the send buffer below the largest message"},
	{Name: "server.tcp_rmem", Default: "4096 131072 1048576", Kind: scenario.Text, Help: "caps the receive buffer below the largest message"},
}

func writePlan(k scenario.Knobs) plan {
	return plan{Writers: k.Int("client.writers"), Messages: k.Int("client.messages"), Sizes: sizesUpTo(k.Int("client.max_size"))}
}

// readAndCheck reads one connection's whole stream and publishes what
// checkStream found in it as "report".
func readAndCheck(s *scenario.ServerEnv) error {
	p := writePlan(s.Knobs)
	return acceptWith(s, func(c net.Conn) {
		logErr("concurrent-write deadline", c.SetReadDeadline(time.Now().Add(time.Minute)))
		buf := make([]byte, 0, p.bytes()+1)
		for {
			n, err := c.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF || len(buf) == cap(buf) {
				break
			}
			if err != nil {
				s.Publish("report_error", err.Error())
				return
			}
		}
		s.Publish("report", checkStream(buf, p))
	})
}

// concurrentWriteDriver writes p with writeMessages (in pieces of
// client.piece bytes when split) and fetches the server's report.
func concurrentWriteDriver(split bool) func(e *scenario.Env) error {
	return func(e *scenario.Env) error {
		p := writePlan(e.Knobs)
		piece := 0
		if split {
			if piece = e.Knobs.Int("client.piece"); piece%cellSize != 0 {
				return fmt.Errorf("client.piece=%d is not a multiple of %d", piece, cellSize)
			}
		}
		c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		tc := c.(*net.TCPConn)
		start := time.Now()
		sent, writes, werr := writeMessages(c, p, piece)
		took := time.Since(start)
		sndbuf, err := sockInt(tc, soSndBuf)
		if err := errors.Join(werr, err); err != nil {
			return err
		}
		if err := tc.CloseWrite(); err != nil {
			return err
		}
		var r streamReport
		if err := e.GetWait("report", &r, time.Minute); err != nil {
			var why string
			_ = e.Get("report_error", &why)
			return fmt.Errorf("%w %s", err, why)
		}
		n := p.count()
		if err := e.Record(&ConcurrentWriteObs{Writers: p.Writers, MessagesSent: sent, WriteCalls: writes, LargestMessage: p.largest(),
			SoSndBuf: sndbuf, WriteMS: scenario.Ms(took), Report: r, MessagesReceived: r.Received, Intact: r.Intact,
			Interleaved: r.Interleaved, Reassembled: r.Reassembled, Piece: piece}); err != nil {
			return err
		}
		e.Expect("every Write succeeded", sent == n, "%d of %d messages sent", sent, n)
		e.Expect("the reader got every byte", r.Bytes == r.Expected, "%d of %d bytes", r.Bytes, r.Expected)
		e.Expect("every message's bytes arrive (gathered by cell ids)", r.Reassembled == n && r.BadCells == 0,
			"%d of %d reassembled, %d bad cells", r.Reassembled, n, r.BadCells)
		if !split {
			e.Expect("every message arrives whole (length, CRC, per-writer order)", r.Intact == n,
				"%d of %d intact; framing lost at byte %d", r.Intact, n, r.FramingLostAt)
			e.Expect("no message interleaved", r.Interleaved == 0, "%d interleaved", r.Interleaved)
			e.Expect("the largest message exceeds SO_SNDBUF, so its Write spans several write(2) calls",
				p.largest() > sndbuf, "largest %d B, SO_SNDBUF %d B", p.largest(), sndbuf)
			e.Headline("%d goroutines, %d messages of 16 B–%d KiB (SO_SNDBUF %d KiB): %d sent, %d received, %d intact, %d interleaved",
				p.Writers, n, p.largest()>>10, sndbuf>>10, sent, r.Received, r.Intact, r.Interleaved)
			return nil
		}
		e.Expect("interleaving is observed", r.Interleaved > 0, "%d of %d messages interleaved", r.Interleaved, n)
		e.Expect("a length-prefixed reader loses the framing", r.Intact < n,
			"%d of %d parsed before the framing was lost at byte %d", r.Intact, n, r.FramingLostAt)
		e.Headline("%d goroutines, %d messages in %d-byte Writes: %d interleaved; a length-prefixed reader got %d before losing the framing",
			p.Writers, n, piece, r.Interleaved, r.Intact)
		return nil
	}
}

// ConcurrentWriteObs is what concurrent-write and concurrent-write-split
// observed; the fields after Report repeat its counts.
type ConcurrentWriteObs struct {
	Writers        int     `json:"writers"`
	MessagesSent   int     `json:"messages_sent"`
	WriteCalls     int     `json:"write_calls"` // conn.Write calls, all writers
	LargestMessage int     `json:"largest_message"`
	SoSndBuf       int     `json:"so_sndbuf"`
	WriteMS        float64 `json:"write_ms"`
	// Report is what the server found in the stream it read.
	Report           streamReport `json:"report"`
	MessagesReceived int          `json:"messages_received"`
	Intact           int          `json:"intact"`
	Interleaved      int          `json:"interleaved"`
	Reassembled      int          `json:"reassembled"`
	// Piece is the bytes per Write of concurrent-write-split; absent (0)
	// for concurrent-write, which writes each message at once.
	Piece int `json:"piece,omitempty"`
}
