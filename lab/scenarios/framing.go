package scenarios

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
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

// streamReport is what a reader found in a stream written by writeMessages.
type streamReport struct {
	Bytes    int `json:"bytes"`
	Expected int `json:"expected_bytes"`
	Messages int `json:"messages_expected"`
	// Received counts messages whose header arrived.
	Received int `json:"received"`
	// Intact counts messages a length-prefixed reader got whole: valid
	// header, right length, matching CRC, in its writer's order. It stops at
	// the first message that does not parse (FramingLostAt, -1 if never).
	Intact        int `json:"intact"`
	FramingLostAt int `json:"framing_lost_at"`
	// Interleaved counts messages whose cells do not form one contiguous run
	// in the stream: some other Write landed inside them.
	Interleaved int `json:"interleaved"`
	// Reassembled counts messages whose cells, gathered by the ids they
	// carry, rebuild the full payload with the header's CRC: nothing lost
	// or duplicated, only (perhaps) interleaved.
	Reassembled int `json:"reassembled"`
	BadCells    int `json:"bad_cells"`
}

type msgKey struct{ w, seq uint32 }

type msgState struct {
	runs, headers  int
	length, crcHdr uint32
	crc, next      uint32
	bad            bool
}

// checkStream parses s both ways (see streamReport).
func checkStream(s []byte, p plan) streamReport {
	r := streamReport{Bytes: len(s), Expected: p.bytes(), Messages: p.count(), FramingLostAt: -1}
	be := binary.BigEndian
	next := make([]int, p.Writers)
	for off := 0; off < len(s); {
		ok := len(s)-off >= cellSize
		var w, seq, n int
		if ok {
			h := s[off:]
			w, seq, n = int(be.Uint16(h[2:])), int(be.Uint32(h[4:])), int(be.Uint32(h[8:]))
			ok = be.Uint16(h) == tagHeader && w < p.Writers && seq == next[w] && seq < p.Messages &&
				n == p.size(w, seq) && off+cellSize+n <= len(s) &&
				crc32.ChecksumIEEE(s[off+cellSize:off+cellSize+n]) == be.Uint32(h[12:])
		}
		if !ok {
			r.FramingLostAt = off
			break
		}
		r.Intact++
		next[w]++
		off += cellSize + n
	}

	msgs := map[msgKey]*msgState{}
	var prev msgKey
	for off := 0; off+cellSize <= len(s); off += cellSize {
		c := s[off : off+cellSize]
		k := msgKey{uint32(be.Uint16(c[2:])), be.Uint32(c[4:])}
		st := msgs[k]
		if st == nil {
			st = &msgState{}
			msgs[k] = st
		}
		switch be.Uint16(c) {
		case tagHeader:
			st.headers++
			st.length, st.crcHdr = be.Uint32(c[8:]), be.Uint32(c[12:])
			st.bad = st.bad || st.next != 0
		case tagPayload:
			o := be.Uint32(c[8:])
			if o != st.next || be.Uint32(c[12:]) != cellMix(k.w, k.seq, o) {
				st.bad = true
			}
			st.crc = crc32.Update(st.crc, crc32.IEEETable, c)
			st.next += cellSize
		default:
			r.BadCells++
			continue
		}
		if off == 0 || k != prev {
			st.runs++
		}
		prev = k
	}
	if len(s)%cellSize != 0 {
		r.BadCells++
	}
	for _, st := range msgs {
		if st.headers > 0 {
			r.Received++
		}
		if st.runs > 1 {
			r.Interleaved++
		}
		if st.headers == 1 && !st.bad && st.next == st.length && st.crc == st.crcHdr {
			r.Reassembled++
		}
	}
	return r
}

// readConcurrent has k goroutines Read c into their own buffer of bufSize
// bytes until EOF; each keeps what it read, in its own order.
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
	StreamBytes int   `json:"stream_bytes"`
	ReadBytes   int   `json:"read_bytes"`
	PerReader   []int `json:"bytes_per_reader"`
	Reads       int   `json:"reads"`
	// UnionIsStream: the readers' chunks, each reader's in its own order,
	// interleave into exactly the stream: no byte lost, none duplicated.
	UnionIsStream bool `json:"union_is_stream"`
	Messages      int  `json:"messages"`
	// Split counts messages whose bytes were read by more than one goroutine.
	Split int `json:"split_messages"`
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
	r := readReport{StreamBytes: len(stream), PerReader: make([]int, len(chunks)), Messages: p.Messages}
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
