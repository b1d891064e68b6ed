package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// §5 Closing.

func TestCloseSelf(t *testing.T) {
	t.Parallel()
	r := run(t, "close-self", nil)
	for _, k := range []string{"read_error", "write_error"} {
		e := r.Err(k)
		assert.Equal(t, "ErrClosed", e.Kind, k)
		assert.Contains(t, e.Text, "use of closed network connection", k)
	}
}

func TestClosePeer(t *testing.T) {
	t.Parallel()
	r := run(t, "close-peer", nil)
	assert.Equal(t, "EOF", r.Err("read_error").Kind)
	var writes []struct {
		N   int `json:"n"`
		Err struct {
			Kind string `json:"kind"`
		} `json:"err"`
	}
	r.Decode("writes", &writes)
	if assert.GreaterOrEqual(t, len(writes), 2) {
		assert.Equal(t, "none", writes[0].Err.Kind, "the first Write succeeds")
		assert.Positive(t, writes[0].N)
	}
	assert.GreaterOrEqual(t, r.Num("write_failed_at"), 2.0)
	assert.Contains(t, []string{"EPIPE", "ECONNRESET"}, r.Err("write_error").Kind)
}

func TestCloseHalf(t *testing.T) {
	t.Parallel()
	r := run(t, "close-half", nil)
	var srv struct {
		Request   string `json:"request"`
		ReadAgain struct {
			Kind string `json:"kind"`
		} `json:"read_again"`
		WriteErr struct {
			Kind string `json:"kind"`
		} `json:"write_err"`
	}
	r.Decode("server", &srv)
	assert.Equal(t, "request", srv.Request)
	assert.Equal(t, "EOF", srv.ReadAgain.Kind, "the peer reads io.EOF")
	assert.Equal(t, "none", srv.WriteErr.Kind, "and can still write")
	assert.Equal(t, "answer to request", r.Observations["answer"])
	assert.Equal(t, "EOF", r.Err("client_read_end").Kind)
	assert.Equal(t, "EPIPE", r.Err("write_after_closewrite").Kind)
}
