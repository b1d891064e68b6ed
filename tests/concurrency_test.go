package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// §3 Goroutine safety: evidence from the stream the reader got.

func TestConcurrentWrite(t *testing.T) {
	t.Parallel()
	r := run(t, "concurrent-write", nil)
	n := r.Num("writers") * 10
	assert.GreaterOrEqual(t, r.Num("writers"), 8.0)
	assert.Equal(t, n, r.Num("messages_sent"))
	assert.Equal(t, n, r.Num("messages_received"))
	assert.Equal(t, n, r.Num("intact"), "one Write per message: every message whole")
	assert.Zero(t, r.Num("interleaved"))
	assert.Greater(t, r.Num("largest_message"), r.Num("so_sndbuf"), "the 4 MiB Write needs several write(2) calls")
}

func TestConcurrentWriteSplit(t *testing.T) {
	t.Parallel()
	r := run(t, "concurrent-write-split", nil)
	n := r.Num("writers") * 10
	assert.Positive(t, r.Num("interleaved"), "several Writes per message: interleaving")
	assert.Less(t, r.Num("intact"), n, "a length-prefixed reader loses the framing")
	assert.Equal(t, n, r.Num("reassembled"), "no byte is lost, only interleaved")
	assert.Greater(t, r.Num("write_calls"), r.Num("messages_sent"))
}

func TestConcurrentRead(t *testing.T) {
	t.Parallel()
	r := run(t, "concurrent-read", nil)
	var per []int
	r.Decode("bytes_per_goroutine", &per)
	assert.Len(t, per, 8)
	sum, active := 0, 0
	for _, n := range per {
		sum += n
		if n > 0 {
			active++
		}
	}
	var rep struct {
		StreamBytes int `json:"stream_bytes"`
	}
	r.Decode("report", &rep)
	assert.Equal(t, rep.StreamBytes, sum, "no byte lost or duplicated")
	assert.Greater(t, active, 1)
	assert.Equal(t, true, r.Observations["union_is_stream"])
	assert.Positive(t, r.Num("split_messages"))
}
