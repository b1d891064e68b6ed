package scenarios

import (
	"fmt"
	"net"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// concurrentRead: the server writes a stream of framed messages; K client
// goroutines Read the one conn with small buffers, each yielding after its
// Read as code handling what it read would. Go's fd read lock makes each
// Read take a distinct, contiguous part of the stream (no byte lost or read
// twice), and the goroutines take turns at it, so a message longer than
// one Read is split between goroutines.
var concurrentRead = &scenario.Scenario{
	ID:      "concurrent-read",
	Section: "3 Read and Write",
	Title:   "K goroutines Read one conn: nothing lost or duplicated, messages split between them",
	Timeout: 60 * time.Second,
	Weight:  fixed(2400 * time.Millisecond),
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
		c, err := dialTCP(e)
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
		return e.Record(&ConcurrentReadObs{Report: checkReads(p, chunks)})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ConcurrentReadObs, v *scenario.Verdict) {
		p := readPlan(k)
		readers, buf := k.Int("client.readers"), k.Int("client.read_buf")
		r, stream := o.Report, p.bytes()
		sum, active := 0, 0
		for _, n := range r.PerReader {
			sum += n
			if n > 0 {
				active++
			}
		}
		v.Expect("one count per goroutine", len(r.PerReader) == readers, "%d counts, %d goroutines", len(r.PerReader), readers)
		v.Expect("the bytes read add up to the stream", r.ReadBytes == stream && sum == stream,
			"read %d (per goroutine %v, sum %d) of %d bytes", r.ReadBytes, r.PerReader, sum, stream)
		v.Expect("the goroutines' reads interleave into exactly the stream (no loss, no duplication)", r.UnionIsStream,
			"%d reads by %d goroutines", r.Reads, readers)
		concurrentReadVerdicts(k, p, r, active, v)
		v.Headline("%d goroutines, %d-byte buffers, %d B stream in %d Reads: union = stream %v, %d of %d messages split across goroutines",
			readers, buf, stream, r.Reads, r.UnionIsStream, r.Split, p.Messages)
	}),
	Article: "the article: a message \"world\" may be read as \"worl\" + \"d\" by two goroutines; the lab counts them",
}

func readPlan(k scenario.Knobs) plan {
	return plan{Writers: 1, Messages: k.Int("server.messages"), Sizes: sizesUpTo(k.Int("server.max_size"))}
}

// ConcurrentReadObs is what concurrent-read observed.
type ConcurrentReadObs struct {
	Report readReport `json:"report"`
}

func concurrentReadVerdicts(k scenario.Knobs, p plan, r readReport, active int, v *scenario.Verdict) {
	readers, buf := k.Int("client.readers"), k.Int("client.read_buf")
	stream := p.bytes()
	full := (stream + buf - 1) / buf
	// The server writes the whole stream at once and the readers take it
	// buf bytes a call: its queue stays ahead of them, so a Read fills its
	// buffer but where the readers catch up with the sender (2–6 short
	// Reads of 27340 measured): at most 1 % more Reads than full ones.
	v.Between("Reads: stream / read_buf, +1 % short ones", float64(r.Reads), float64(full), float64(full+full/100), "")
	// Each reader yields after its Read, and the fd's read lock goes to a
	// waiting reader: the K goroutines take turns, each reads about 1/K of
	// the stream.
	lo, hi := stream/(2*readers), 2*stream/readers
	turns := active == readers
	for _, n := range r.PerReader {
		turns = turns && n >= lo && n <= hi
	}
	v.Expect(fmt.Sprintf("the goroutines take turns: each read %d … %d bytes (½ … 2 × its share)", lo, hi), turns, "%v", r.PerReader)
	// Taking turns, consecutive Reads are by different goroutines, so a
	// message that spans more than one Read is split between them. Now and
	// then the yielding reader is picked up by the other P before the
	// woken one runs and takes the next turn too: up to 1 in 20 may stay
	// whole. A short Read shifts the later boundaries, so a message inside
	// one full Read may straddle two: up to all of them (120 and 122 of
	// 140 measured, 120 spanning).
	want := spanning(p, buf)
	v.Between("messages split between goroutines (those spanning several Reads)", float64(r.Split), float64(want-want/20), float64(p.Messages), "")
}

// spanning counts p's messages (writer 0's stream) that cross a buf-byte
// boundary: those more than one full Read takes.
func spanning(p plan, buf int) int {
	n, off := 0, 0
	for m := range p.Messages {
		end := off + cellSize + p.size(0, m)
		if off/buf != (end-1)/buf {
			n++
		}
		off = end
	}
	return n
}
