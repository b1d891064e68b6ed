package scenarios

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Helpers shared by the §3 Read/Write scenarios.

// step bounds every blocking step of a §3 driver that is expected to finish
// at once: a scenario that would hang fails with a message instead.
const step = 5 * time.Second

// dialTCP dials the server under test, bounded by step.
func dialTCP(e *scenario.Env) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: step}
	c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.Addr(), err)
	}
	return c.(*net.TCPConn), nil
}

// waitUntil polls cond every 5 ms until it holds, or fails after max with
// what.
func waitUntil(e *scenario.Env, max time.Duration, what string, cond func() (bool, error)) error {
	end := time.Now().Add(max)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(end) || e.Ctx.Err() != nil {
			return fmt.Errorf("%s: not after %v", what, max)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writer issues chunk-sized Writes on c in its own goroutine until one
// fails, so the driver can watch the writes from outside while one blocks.
type writer struct {
	done   atomic.Int64 // bytes of Writes that returned without error
	writes atomic.Int64 // Writes that returned without error
	last   chan wresult // the Write that failed
	start  time.Time
	// progress is [ms since start, bytes the kernel accepted], sampled by
	// blocked whenever the count moved: the fill curve up to the block.
	progress [][2]float64
}

type wresult struct {
	n    int
	err  error
	took time.Duration // how long that Write call took
	at   time.Time
}

// startWriter starts writing; each Write gets a deadline of perWrite from
// its start when perWrite > 0.
func startWriter(c net.Conn, chunk int, perWrite time.Duration) *writer {
	w := &writer{last: make(chan wresult, 1), start: time.Now()}
	buf := make([]byte, chunk)
	go func() {
		for {
			start := time.Now()
			if perWrite > 0 {
				c.SetWriteDeadline(start.Add(perWrite))
			}
			n, err := c.Write(buf)
			if err != nil {
				w.last <- wresult{n: n, err: err, took: time.Since(start), at: time.Now()}
				return
			}
			w.done.Add(int64(n))
			w.writes.Add(1)
		}
	}()
	return w
}

// blocked waits until the writer is stuck in a Write: neither its completed
// bytes nor the kernel's accepted bytes move for quiet. Before the buffers
// are full data moves at memory speed, so a quiet period of a few hundred
// ms only happens when the Write is parked waiting for buffer space. It
// fails if a Write returns an error first or nothing blocks within max.
func (w *writer) blocked(e *scenario.Env, c net.Conn, quiet, max time.Duration) (acc int, since time.Time, err error) {
	end := time.Now().Add(max)
	last, lastDone := -1, int64(-1)
	since = time.Now()
	for {
		select {
		case r := <-w.last:
			w.last <- r
			return 0, since, fmt.Errorf("a Write failed before the writer blocked: n=%d: %w", r.n, r.err)
		default:
		}
		if acc, err = accepted(c); err != nil {
			return 0, since, err
		}
		if done := w.done.Load(); acc != last || done != lastDone {
			if acc != last && len(w.progress) < 2000 {
				w.progress = append(w.progress, [2]float64{scenario.Ms(time.Since(w.start)), float64(acc)})
			}
			last, lastDone, since = acc, done, time.Now()
		} else if time.Since(since) >= quiet {
			return acc, since, nil
		}
		if time.Now().After(end) || e.Ctx.Err() != nil {
			return 0, since, fmt.Errorf("Write never blocked: %d bytes accepted after %v", acc, max)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// result waits for the failing Write, bounded by max.
func (w *writer) result(max time.Duration) (wresult, error) {
	select {
	case r := <-w.last:
		return r, nil
	case <-time.After(max):
		return wresult{}, fmt.Errorf("the blocked Write did not return within %v", max)
	}
}

// sinkSide is what the write scenarios' server reports about its side of
// a connection at the moment the client's Write blocked.
type sinkSide struct {
	RcvBuf int `json:"rcvbuf"` // SO_RCVBUF in force
	InQ    int `json:"inq"`    // bytes in its receive queue, unread
}

// sink is the server of the write scenarios: it does not read. Connections
// are dialled one at a time, so the i-th accept is the client's i-th
// connection, named "c<i>/". On "c<i>/probe" it publishes its sinkSide,
// then on "c<i>/go" it does then: "read" reads server.read_size bytes every
// server.read_every (the article's server5), "die" closes the socket with
// the data unread, as an exiting process does (the kernel sends RST).
//
// server.read_buffer > 0 sets SO_RCVBUF, the option SetReadBuffer sets, on
// the listener, so accepted conns have it from the handshake on. Calling
// SetReadBuffer on the accepted conn is too late: the window was offered
// with the default buffer, and the totals then vary from run to run.
func sink(then string) func(*scenario.ServerEnv) error {
	return func(s *scenario.ServerEnv) error {
		lc := net.ListenConfig{Control: func(_, _ string, raw syscall.RawConn) error {
			rb := knobInt(s.Knobs, "server.read_buffer")
			if rb == 0 {
				return nil
			}
			return setSockInt(raw, soRcvBuf, rb)
		}}
		ln, err := lc.Listen(s.Ctx, "tcp", ":"+strconv.Itoa(scenario.Port))
		if err != nil {
			return err
		}
		var next atomic.Int64
		return acceptOn(s, ln, func(c net.Conn) {
			p := "c" + strconv.FormatInt(next.Add(1)-1, 10) + "/"
			if s.Await(p+"probe") != nil {
				return
			}
			var side sinkSide
			_, side.RcvBuf, _ = sockBufs(c)
			side.InQ, _, _ = queues(c)
			s.Publish(p+"probe", side)
			if s.Await(p+"go") != nil {
				return
			}
			switch then {
			case "die":
				return // acceptWith closes c with the data unread
			case "read":
				readEvery(s, c)
			}
			<-s.Ctx.Done()
		})
	}
}

// readEvery reads server.read_size bytes every server.read_every until the
// connection or the run ends.
func readEvery(s *scenario.ServerEnv, c net.Conn) {
	every := s.Knobs.Duration("server.read_every")
	buf := make([]byte, knobInt(s.Knobs, "server.read_size"))
	for {
		select {
		case <-s.Ctx.Done():
			return
		case <-time.After(every):
		}
		c.SetReadDeadline(time.Now().Add(every))
		if _, err := c.Read(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// knobInt is an integer knob, 0 when the scenario has no such knob.
func knobInt(k scenario.Knobs, name string) int {
	if _, ok := k[name]; !ok {
		return 0
	}
	return k.Int(name)
}

// probeSink asks the sink about connection i.
func probeSink(e *scenario.Env, i int) (sinkSide, error) {
	var side sinkSide
	p := fmt.Sprintf("c%d/", i)
	if err := e.Signal(p + "probe"); err != nil {
		return side, err
	}
	return side, e.GetWait(p+"probe", &side, step)
}

// holdOpen keeps an accepted conn open until the run ends.
func holdOpen(s *scenario.ServerEnv) { <-s.Ctx.Done() }

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

// mode is the most common value of xs and how often it occurs.
func mode(xs []int) (v, count int) {
	seen := map[int]int{}
	for _, x := range xs {
		seen[x]++
		if seen[x] > count || (seen[x] == count && x < v) {
			v, count = x, seen[x]
		}
	}
	return v, count
}

// stableNote is the expectation on totals measured on several connections
// with the same buffers. They agree on most, not all: now and then the
// receiver holds one segment more or less (its memory is counted by skb
// truesize, which depends on how packets were coalesced on arrival) or the
// sender packs its queue differently. So the most common total must hold
// on a majority, and the rest are reported.
const stableNote = "the same total on a majority of connections (skb packing moves the odd one by a segment or so)"
