package scenarios

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These run the concurrency scenarios' client code over loopback, no
// containers, so `go test -race ./lab/...` checks it for data races.

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// writeAndCheck runs writeMessages on one end and checkStream on the other.
func writeAndCheck(t *testing.T, p plan, piece int) streamReport {
	c, s := pair(t)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(s)
		got <- b
	}()
	sent, writes, err := writeMessages(c, p, piece)
	require.NoError(t, err)
	require.Equal(t, p.count(), sent)
	require.GreaterOrEqual(t, writes, sent)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	return checkStream(<-got, p)
}

var testPlan = plan{Writers: 8, Messages: 9, Sizes: sizesUpTo(1 << 20)}

func TestWriteWholeMessages(t *testing.T) {
	r := writeAndCheck(t, testPlan, 0)
	assert.Equal(t, testPlan.bytes(), r.Bytes)
	assert.Equal(t, testPlan.count(), r.Intact, "every message whole: %+v", r)
	assert.Equal(t, -1, r.FramingLostAt)
	assert.Zero(t, r.Interleaved)
	assert.Equal(t, testPlan.count(), r.Reassembled)
}

func TestWriteSplitMessages(t *testing.T) {
	r := writeAndCheck(t, testPlan, 4096)
	assert.Equal(t, testPlan.bytes(), r.Bytes)
	assert.Positive(t, r.Interleaved, "split writes interleave: %+v", r)
	assert.Less(t, r.Intact, testPlan.count())
	// The framing is lost inside the stream, after the intact messages'
	// headers at least, on a cell boundary (every Write is whole cells).
	assert.GreaterOrEqual(t, r.FramingLostAt, r.Intact*cellSize, "%+v", r)
	assert.Less(t, r.FramingLostAt, r.Bytes, "%+v", r)
	assert.Zero(t, r.FramingLostAt%cellSize, "%+v", r)
	assert.Equal(t, testPlan.count(), r.Reassembled, "interleaved, but nothing lost")
	assert.Zero(t, r.BadCells)
}

func TestConcurrentReaders(t *testing.T) {
	p := plan{Writers: 1, Messages: 140, Sizes: sizesUpTo(64 << 10)}
	c, s := pair(t)
	go func() {
		if _, err := s.Write(p.stream(0)); err != nil {
			t.Error(err)
		}
		s.Close()
	}()
	chunks, err := readConcurrent(c, 8, 64)
	require.NoError(t, err)
	r := checkReads(p, chunks)
	assert.True(t, r.UnionIsStream, "%+v", r)
	assert.Equal(t, len(p.stream(0)), r.ReadBytes)
	assert.Positive(t, r.Split)
}

// checkStream must notice damage, not only bless good streams.
func TestCheckStreamDetectsDamage(t *testing.T) {
	p := plan{Writers: 2, Messages: 3, Sizes: sizesUpTo(256)}
	s := append(p.stream(0), p.stream(1)...)
	good := checkStream(s, p)
	require.Equal(t, p.count(), good.Intact)
	require.Equal(t, p.count(), good.Reassembled)

	bad := append([]byte(nil), s...)
	bad[cellSize+5] ^= 1 // one payload bit of the first message
	r := checkStream(bad, p)
	assert.Equal(t, 0, r.Intact)
	assert.Equal(t, 0, r.FramingLostAt)
	assert.Equal(t, p.count()-1, r.Reassembled)

	// Swap the last two payload cells of writer 0's last message (256 B):
	// out of order, so not reassembled, yet still one run.
	end := len(p.stream(0))
	swapped := append([]byte(nil), s...)
	copy(swapped[end-2*cellSize:], s[end-cellSize:end])
	copy(swapped[end-cellSize:], s[end-2*cellSize:end-cellSize])
	r = checkStream(swapped, p)
	assert.Equal(t, p.count()-1, r.Reassembled)
	assert.Zero(t, r.Interleaved)

	// Move writer 1's first message (header + 64 B) into the middle of
	// writer 0's last one: one message interleaved, both still whole.
	m := s[end : end+5*cellSize]
	mixed := append([]byte(nil), s[:end-cellSize]...)
	mixed = append(mixed, m...)
	mixed = append(mixed, s[end-cellSize:end]...)
	mixed = append(mixed, s[end+5*cellSize:]...)
	r = checkStream(mixed, p)
	assert.Equal(t, 1, r.Interleaved, "writer 0's message is split in two runs; writer 1's is one run")
	assert.Equal(t, p.count(), r.Reassembled)
	assert.Less(t, r.Intact, p.count())
}

func TestPlaceReadsRejectsLossAndDuplication(t *testing.T) {
	p := plan{Writers: 1, Messages: 4, Sizes: sizesUpTo(64)}
	s := p.stream(0)
	ok := [][][]byte{{s[:10], s[30:]}, {s[10:30]}}
	assert.True(t, checkReads(p, ok).UnionIsStream)
	lost := [][][]byte{{s[:10], s[31:]}, {s[10:30]}}
	assert.False(t, checkReads(p, lost).UnionIsStream)
	dup := [][][]byte{{s[:10], s[30:]}, {s[10:30], s[10:30]}}
	assert.False(t, checkReads(p, dup).UnionIsStream)
	r := checkReads(p, ok)
	assert.Equal(t, 1, r.Split, "message 0 (bytes 0–32) is read by both readers, message 1 (32–112) by one")
}
