package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenarios"
)

// §3 Goroutine safety: evidence from the stream the reader got.

func TestConcurrentWrite(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.ConcurrentWriteObs](t, run(t, "concurrent-write", nil))
	n := o.Writers * 10
	assert.GreaterOrEqual(t, o.Writers, 8)
	assert.Equal(t, n, o.MessagesSent)
	assert.Equal(t, n, o.WriteCalls, "one Write per message")
	assert.Equal(t, n, o.MessagesReceived)
	assert.Equal(t, n, o.Intact, "one Write per message: every message whole")
	assert.Equal(t, -1, o.Report.FramingLostAt)
	assert.Zero(t, o.Interleaved)
	assert.Zero(t, o.Piece)
	assert.Greater(t, o.LargestMessage, o.SoSndBuf, "the 4 MiB Write needs several write(2) calls")
}

func TestConcurrentWriteSplit(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.ConcurrentWriteObs](t, run(t, "concurrent-write-split", nil))
	n := o.Writers * 10
	assert.Equal(t, 4096, o.Piece)
	assert.Positive(t, o.Interleaved, "several Writes per message: interleaving")
	assert.Less(t, o.Intact, n, "a length-prefixed reader loses the framing")
	assert.Equal(t, n, o.Reassembled, "no byte is lost, only interleaved")
	assert.Greater(t, o.WriteCalls, o.MessagesSent)
}

func TestConcurrentRead(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.ConcurrentReadObs](t, run(t, "concurrent-read", nil))
	per := o.BytesPerGoroutine
	assert.Len(t, per, 8)
	sum, active := 0, 0
	for _, n := range per {
		sum += n
		if n > 0 {
			active++
		}
	}
	assert.Equal(t, o.Report.StreamBytes, sum, "no byte lost or duplicated")
	assert.Greater(t, active, 1)
	assert.True(t, o.UnionIsStream)
	assert.Positive(t, o.SplitMessages)
}
