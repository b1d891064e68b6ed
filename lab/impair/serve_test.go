package impair

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tcplab/tcplab/lab/control"
)

// The handler gives an agent's own ops first, answers "quit" for every
// agent, refuses an op nobody declared, and WithSpec hands its op the Spec
// it decoded.
func TestHandler(t *testing.T) {
	var got Spec
	var a Agent
	h := a.Handler(map[string]Op{
		"apply": WithSpec(func(s Spec) (Applied, error) { got = s; return Applied{}, nil }),
	})
	ctx := context.Background()
	if _, err := h(ctx, "apply", json.RawMessage(`{"port":8080,"loss":0.5}`)); err != nil {
		t.Fatal(err)
	}
	if got.Port != 8080 || got.Loss != 0.5 {
		t.Fatalf("apply got %+v", got)
	}
	if _, err := h(ctx, "apply", json.RawMessage(`{"port":"x"}`)); err == nil {
		t.Fatal("apply took a port that is no number")
	}
	if _, err := h(ctx, "quit", nil); !errors.Is(err, control.ErrQuit) {
		t.Fatalf("quit: %v", err)
	}
	if _, err := h(ctx, "set", nil); err == nil || err.Error() != `unknown op "set"` {
		t.Fatalf("an op not declared: %v", err)
	}
}
