package scenarios

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
)

// Several goroutines reading one stream (concurrent-read).

// readConcurrent has k goroutines Read c into their own buffer of bufSize
// bytes until EOF; each keeps what it read, in its own order, and yields
// after each Read, as a reader handling its data would. Without the yield
// the goroutine that just read mostly takes the fd's lock again before the
// waiter it woke runs (15-24 of 140 messages split, measured on loopback);
// with it they take turns.
func readConcurrent(c net.Conn, k, bufSize int) ([][][]byte, error) {
	chunks := make([][][]byte, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for r := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bufSize)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					chunks[r] = append(chunks[r], bytes.Clone(buf[:n]))
				}
				runtime.Gosched()
				if err == io.EOF {
					return
				}
				if err != nil {
					errs[r] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return chunks, errors.Join(errs...)
}

// readReport is what concurrent readers got of a stream.
type readReport struct {
	ReadBytes int   `json:"read_bytes" tcplab:"exact"`
	PerReader []int `json:"bytes_per_reader"`
	Reads     int   `json:"reads"` // Read calls that returned data
	// UnionIsStream: the readers' chunks, each reader's in its own order,
	// interleave into exactly the stream: no byte lost, none duplicated.
	UnionIsStream bool `json:"union_is_stream"`
	// Split counts messages whose bytes were read by more than one goroutine.
	Split int `json:"split_messages" tcplab:"headline"`
}

// placeReads finds the interleaving of the readers' chunks that rebuilds
// stream (depth-first; a chunk too short to be unambiguous is retried the
// other way). It returns the reader of each chunk in stream order.
func placeReads(stream []byte, chunks [][][]byte) ([]int, bool) {
	idx := make([]int, len(chunks))
	var order []int
	failed := map[string]bool{}
	key := func() string {
		b := make([]byte, 0, 4*len(idx))
		for _, i := range idx {
			b = binary.BigEndian.AppendUint32(b, uint32(i))
		}
		return string(b)
	}
	var try func(pos int) bool
	try = func(pos int) bool {
		if pos == len(stream) {
			for r, i := range idx {
				if i != len(chunks[r]) {
					return false
				}
			}
			return true
		}
		var cands []int
		for r := range chunks {
			if idx[r] < len(chunks[r]) && bytes.HasPrefix(stream[pos:], chunks[r][idx[r]]) {
				cands = append(cands, r)
			}
		}
		if len(cands) > 1 {
			if failed[key()] {
				return false
			}
		}
		for _, r := range cands {
			n := len(chunks[r][idx[r]])
			idx[r]++
			order = append(order, r)
			if try(pos + n) {
				return true
			}
			idx[r]--
			order = order[:len(order)-1]
		}
		if len(cands) > 1 {
			failed[key()] = true
		}
		return false
	}
	ok := try(0)
	return order, ok
}

// checkReads compares what the readers got with the stream that p's single
// writer (writer 0) sent.
func checkReads(p plan, chunks [][][]byte) readReport {
	stream := p.stream(0)
	r := readReport{PerReader: make([]int, len(chunks))}
	for i, cs := range chunks {
		for _, c := range cs {
			r.PerReader[i] += len(c)
			r.ReadBytes += len(c)
			r.Reads++
		}
	}
	order, ok := placeReads(stream, chunks)
	r.UnionIsStream = ok && r.ReadBytes == len(stream)
	if !r.UnionIsStream {
		return r
	}
	// Place every chunk in the stream, then ask of each message which
	// readers' chunks overlap it.
	type span struct{ start, end, reader int }
	spans := make([]span, 0, len(order))
	idx := make([]int, len(chunks))
	pos := 0
	for _, rd := range order {
		n := len(chunks[rd][idx[rd]])
		idx[rd]++
		spans = append(spans, span{pos, pos + n, rd})
		pos += n
	}
	ci, ms := 0, 0
	for m := range p.Messages {
		me := ms + cellSize + p.size(0, m)
		for ci < len(spans) && spans[ci].end <= ms {
			ci++
		}
		for j := ci; j < len(spans) && spans[j].start < me; j++ {
			if spans[j].reader != spans[ci].reader {
				r.Split++
				break
			}
		}
		ms = me
	}
	return r
}
