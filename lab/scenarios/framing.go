package scenarios

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net"
	"runtime"
	"sync"
)

// Framing for the goroutine-safety scenarios (§3 "Goroutine safe").
//
// A message is a 16-byte header cell (tag, writer id, sequence number,
// payload length, CRC-32 of the payload) followed by a payload of 16-byte
// cells, each of which names its message and its offset. A reader can thus
// parse the stream as an application would (length-prefixed, checksum), and
// when that parse breaks it can still tell which message every 16 bytes came
// from. Writers only ever Write whole cells, and Go writes one Write's bytes
// contiguously, so the stream stays cell-aligned whatever interleaves.

const cellSize = 16

const (
	tagHeader  = 0x7C1B
	tagPayload = 0x7C1C
)

// plan is what a set of writers sends: writer w's i-th message has payload
// size Sizes[(w+i) % len(Sizes)], so every writer covers every size.
type plan struct {
	Writers  int
	Messages int // per writer
	Sizes    []int
}

// sizesUpTo lists 16·4^i bytes up to max: 16 B, 64 B, …, 1 MiB, 4 MiB.
func sizesUpTo(max int) []int {
	var out []int
	for s := cellSize; s <= max; s *= 4 {
		out = append(out, s)
	}
	return out
}

func (p plan) size(w, i int) int { return p.Sizes[(w+i)%len(p.Sizes)] }

func (p plan) count() int { return p.Writers * p.Messages }

// bytes is the length of the whole stream.
func (p plan) bytes() int {
	n := 0
	for w := range p.Writers {
		for i := range p.Messages {
			n += cellSize + p.size(w, i)
		}
	}
	return n
}

func (p plan) largest() int {
	m := 0
	for _, s := range p.Sizes {
		m = max(m, s)
	}
	return m
}

// cellMix makes each payload cell self-checking (and the stream
// high-entropy enough that short reads can be placed).
func cellMix(w, seq, off uint32) uint32 {
	h := w*0x9E3779B1 ^ seq*0x85EBCA77 ^ off*0xC2B2AE3D
	h ^= h >> 15
	h *= 0x2C1B3C6D
	h ^= h >> 13
	return h
}

// message builds writer w's message seq with a payload of n bytes (a
// multiple of cellSize).
func message(w, seq, n int) []byte {
	b := make([]byte, cellSize+n)
	be := binary.BigEndian
	for off := 0; off < n; off += cellSize {
		c := b[cellSize+off:]
		be.PutUint16(c[0:], tagPayload)
		be.PutUint16(c[2:], uint16(w))
		be.PutUint32(c[4:], uint32(seq))
		be.PutUint32(c[8:], uint32(off))
		be.PutUint32(c[12:], cellMix(uint32(w), uint32(seq), uint32(off)))
	}
	be.PutUint16(b[0:], tagHeader)
	be.PutUint16(b[2:], uint16(w))
	be.PutUint32(b[4:], uint32(seq))
	be.PutUint32(b[8:], uint32(n))
	be.PutUint32(b[12:], crc32.ChecksumIEEE(b[cellSize:]))
	return b
}

// stream is the bytes one writer (w) sends for p, in order.
func (p plan) stream(w int) []byte {
	var out []byte
	for i := range p.Messages {
		out = append(out, message(w, i, p.size(w, i))...)
	}
	return out
}

// writeMessages has p.Writers goroutines share c, each sending its messages
// in order. With piece == 0 every message is one Write call. Otherwise the
// header is one Write and the payload follows in Writes of piece bytes (a
// multiple of cellSize), as code that writes a header then a body in parts
// does; the writer yields between parts, as such code would do real work.
func writeMessages(c net.Conn, p plan, piece int) (sent int, writes int, err error) {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range p.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, calls := 0, 0
			defer func() { mu.Lock(); sent += n; writes += calls; mu.Unlock() }()
			for i := range p.Messages {
				m := message(w, i, p.size(w, i))
				parts := [][]byte{m}
				if piece > 0 {
					parts = [][]byte{m[:cellSize]}
					for rest := m[cellSize:]; len(rest) > 0; {
						k := min(piece, len(rest))
						parts, rest = append(parts, rest[:k]), rest[k:]
					}
				}
				for j, part := range parts {
					if j > 0 {
						runtime.Gosched()
					}
					calls++
					if _, err := c.Write(part); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
				}
				n++
			}
		}()
	}
	wg.Wait()
	return sent, writes, errors.Join(errs...)
}
