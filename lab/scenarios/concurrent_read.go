package scenarios

import (
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// concurrentRead: the server writes a stream of framed messages; K client
// goroutines Read the one conn with small buffers. Go's fd read lock makes
// each Read take a distinct, contiguous part of the stream (no byte lost or
// read twice), but which goroutine gets the next part is the scheduler's
// choice, so messages are split between goroutines.
var concurrentRead = &scenario.Scenario{
	ID:      "concurrent-read",
	Section: "3 Read and Write",
	Title:   "K goroutines Read one conn: nothing lost or duplicated, messages split between them",
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.readers", Default: "8", Kind: scenario.Int, Min: 2, Max: 64, Help: "goroutines reading the conn"},
		{Name: "client.read_buf", Default: "64", Kind: scenario.Int, Min: 1, Max: 65536, Help: "each goroutine's Read buffer"},
		{Name: "server.messages", Default: "140", Kind: scenario.Int, Min: 1, Max: 2000},
		{Name: "server.max_size", Default: "65536", Kind: scenario.Int, Min: 16, Max: 1 << 20, Help: "largest payload (16·4^i bytes up to it)"},
	},
	Obs: scenario.ObsOf[ConcurrentReadObs](),
	Server: func(s *scenario.ServerEnv) error {
		p := readPlan(s.Knobs)
		return acceptWith(s, func(c net.Conn) {
			_, err := c.Write(p.stream(0))
			logErr("concurrent-read stream", err)
		})
	},
	Client: func(e *scenario.Env) error {
		p := readPlan(e.Knobs)
		k, buf := e.Knobs.Int("client.readers"), e.Knobs.Int("client.read_buf")
		c, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return err
		}
		chunks, err := readConcurrent(c, k, buf)
		if err != nil {
			return err
		}
		r := checkReads(p, chunks)
		active := 0
		for _, n := range r.PerReader {
			if n > 0 {
				active++
			}
		}
		if err := e.Record(&ConcurrentReadObs{Report: r, BytesPerGoroutine: r.PerReader, UnionIsStream: r.UnionIsStream,
			SplitMessages: r.Split, Messages: r.Messages}); err != nil {
			return err
		}
		e.Expect("the bytes read add up to the stream", r.ReadBytes == r.StreamBytes, "read %d of %d bytes", r.ReadBytes, r.StreamBytes)
		e.Expect("the goroutines' reads interleave into exactly the stream (no loss, no duplication)", r.UnionIsStream,
			"%d reads by %d goroutines", r.Reads, k)
		e.Expect("more than one goroutine read", active > 1, "bytes per goroutine %v", r.PerReader)
		e.Expect("message boundaries are split between goroutines", r.Split > 0, "%d of %d messages split", r.Split, r.Messages)
		e.Headline("%d goroutines, %d-byte buffers, %d B stream: union = stream %v, %d of %d messages split across goroutines",
			k, buf, r.StreamBytes, r.UnionIsStream, r.Split, r.Messages)
		return nil
	},
	Article: "the article: a message \"world\" may be read as \"worl\" + \"d\" by two goroutines; the lab counts them",
}

func readPlan(k scenario.Knobs) plan {
	return plan{Writers: 1, Messages: k.Int("server.messages"), Sizes: sizesUpTo(k.Int("server.max_size"))}
}

// ConcurrentReadObs is what concurrent-read observed; the fields beside
// Report repeat its headline numbers.
type ConcurrentReadObs struct {
	Report            readReport `json:"report"`
	BytesPerGoroutine []int      `json:"bytes_per_goroutine"`
	UnionIsStream     bool       `json:"union_is_stream"`
	SplitMessages     int        `json:"split_messages"`
	Messages          int        `json:"messages"`
}
