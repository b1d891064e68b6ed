package scenarios

import (
	"encoding/binary"
	"hash/crc32"
)

// Checking a stream that several writers shared (concurrent-write, concurrent-write-split).

// streamReport is what a reader found in a stream written by writeMessages.
type streamReport struct {
	Bytes int `json:"bytes" tcplab:"exact"`
	// Received counts messages whose header arrived.
	Received int `json:"received" tcplab:"exact"`
	// Intact counts messages a length-prefixed reader got whole: valid
	// header, right length, matching CRC, in its writer's order. It stops at
	// the first message that does not parse (FramingLostAt, -1 if never).
	Intact        int `json:"intact"`
	FramingLostAt int `json:"framing_lost_at" tcplab:"exact"`
	// Interleaved counts messages whose cells do not form one contiguous run
	// in the stream: some other Write landed inside them.
	Interleaved int `json:"interleaved" tcplab:"headline"`
	// Reassembled counts messages whose cells, gathered by the ids they
	// carry, rebuild the full payload with the header's CRC: nothing lost
	// or duplicated, only (perhaps) interleaved.
	Reassembled int `json:"reassembled" tcplab:"exact"`
	BadCells    int `json:"bad_cells" tcplab:"exact"`
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
	r := streamReport{Bytes: len(s), FramingLostAt: -1}
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
