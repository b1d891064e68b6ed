package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/scenarios"
)

// §5 Closing.

func TestCloseSelf(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.CloseSelfObs](t, run(t, "close-self", nil))
	for k, e := range map[string]scenario.ErrInfo{"read_error": o.ReadError, "write_error": o.WriteError} {
		assert.Equal(t, "ErrClosed", e.Kind, k)
		assert.Contains(t, e.Text, "use of closed network connection", k)
	}
	assert.Less(t, o.TookMS, 100.0, "both return at once")
}

func TestClosePeer(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.ClosePeerObs](t, run(t, "close-peer", nil))
	assert.Equal(t, "EOF", o.ReadError.Kind)
	writes := o.Writes
	if assert.GreaterOrEqual(t, len(writes), 2) {
		assert.Equal(t, "none", writes[0].Err.Kind, "the first Write succeeds")
		assert.Positive(t, writes[0].N)
	}
	assert.GreaterOrEqual(t, o.WriteFailedAt, 2)
	assert.Equal(t, len(writes), o.WriteFailedAt, "the Writes stop at the first that failed")
	assert.Contains(t, []string{"EPIPE", "ECONNRESET"}, o.WriteError.Kind)
}

func TestCloseHalf(t *testing.T) {
	t.Parallel()
	o := obs[scenarios.CloseHalfObs](t, run(t, "close-half", nil))
	srv := o.Server
	assert.Equal(t, "request", srv.Request)
	assert.Equal(t, "none", srv.ReadErr.Kind, "ReadAll returns nil at io.EOF")
	assert.Equal(t, "EOF", srv.ReadAgain.Kind, "the peer reads io.EOF")
	assert.Equal(t, "none", srv.WriteErr.Kind, "and can still write")
	assert.Equal(t, "answer to request", o.Answer)
	assert.Equal(t, "EOF", o.ClientReadEnd.Kind)
	assert.Equal(t, "EPIPE", o.WriteAfterCloseWrite.Kind)
}
