package impair

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tcplab/tcplab/lab/control"
)

// Op is one operation of an agent's control channel, given the request's
// arguments.
type Op func(args json.RawMessage) (any, error)

// WithSpec is an Op that reads a Spec from its arguments and hands it to
// f (an Agent's Apply or Update).
func WithSpec(f func(Spec) (Applied, error)) Op {
	return func(args json.RawMessage) (any, error) {
		var s Spec
		if err := json.Unmarshal(args, &s); err != nil {
			return nil, err
		}
		return f(s)
	}
}

// Handler answers a's control channel: the operations every agent answers
// alike ("info": whether the kernel has netem; "counters"; "quit"), and
// those in ops, which say what the agent itself is for.
func (a *Agent) Handler(ops map[string]Op) control.Handler {
	return func(_ context.Context, op string, args json.RawMessage) (any, error) {
		if f, ok := ops[op]; ok {
			return f(args)
		}
		switch op {
		case "info":
			return map[string]bool{Netem: NetemAvailable()}, nil
		case "counters":
			return a.Counters()
		case "quit":
			return nil, control.ErrQuit
		}
		return nil, fmt.Errorf("unknown op %q", op)
	}
}
