package scenarios

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// writePartialPeerDies: the client is blocked in a Write when the server's
// socket is closed with unread data, as when its process dies; the server's
// kernel answers with RST. Go's Write had already handed part of the chunk
// to the kernel before it parked, so it returns that n together with the
// error (ECONNRESET for the first call after the RST, EPIPE after that).
// The trial repeats on fresh connections and counts n>0 and n==0.
var writePartialPeerDies = &scenario.Scenario{
	ID:      "write-partial-peer-dies",
	Section: "3 Read and Write",
	Title:   "client blocked in Write, the peer dies with unread data (RST): n > 0 and an error",
	Timeout: 90 * time.Second,
	Knobs: writeKnobs(
		scenario.Knob{Name: "client.trials", Default: "5", Kind: scenario.Int, Min: 1, Max: 50, Help: "connections, each blocked then reset"},
		scenario.Knob{Name: "client.tcp_wmem", Default: "4096 131072 131072", Kind: scenario.Text, Help: "pinned so the total repeats"},
		scenario.Knob{Name: "server.tcp_rmem", Default: "4096 16384 16384", Kind: scenario.Text, Help: "pinned so the total repeats"},
	),
	Obs:    scenario.ObsOf[WritePartialPeerDiesObs](),
	Server: sink("die"),
	Client: func(e *scenario.Env) error {
		chunk := e.Knobs.Int("client.chunk")
		var outcomes []dieOutcome
		positive, zero, kindOK, inRange, matches := 0, 0, true, true, true
		for i := range e.Knobs.Int("client.trials") {
			c, w, b, err := fillUntilBlocked(e, i, 0)
			if err != nil {
				return err
			}
			start := time.Now()
			if err := e.Signal(fmt.Sprintf("c%d/go", i)); err != nil {
				c.Close()
				return err
			}
			r, err := w.result(step)
			c.Close()
			if err != nil {
				return fmt.Errorf("trial %d: %w", i, err)
			}
			o := dieOutcome{N: r.n, Total: int(w.done.Load()) + r.n, Writes: int(w.writes.Load()), Err: scenario.Classify(r.err),
				AfterMS: scenario.Ms(r.at.Sub(start)), Block: b}
			outcomes = append(outcomes, o)
			if r.n > 0 {
				positive++
			} else {
				zero++
			}
			kindOK = kindOK && (errors.Is(r.err, syscall.ECONNRESET) || errors.Is(r.err, syscall.EPIPE))
			// Go's Write returns the bytes its write(2) calls took of the
			// chunk before it parked: what the kernel had at the block
			// minus the whole Writes, never more than the chunk.
			inRange = inRange && r.n == b.Accepted-b.WritesDone && r.n < chunk
			matches = matches && o.Total == b.Accepted
		}
		if err := e.Record(&WritePartialPeerDiesObs{Outcomes: outcomes, NPositive: positive, NZero: zero,
			N: outcomes[0].N, Total: outcomes[0].Total, Error: outcomes[0].Err}); err != nil {
			return err
		}
		e.Expect("the blocked Write returns an error: EPIPE or ECONNRESET", kindOK, "outcomes %+v", outcomes)
		e.Expect("n = the part of the chunk the kernel took before Write parked (< chunk)", inRange, "outcomes %+v", outcomes)
		e.Expect("running total = bytes the kernel had taken at the block", matches, "outcomes %+v", outcomes)
		e.Headline("peer reset while Write blocked, %d trials: n>0 in %d, n=0 in %d; first: n=%d total=%d %s",
			len(outcomes), positive, zero, outcomes[0].N, outcomes[0].Total, outcomes[0].Err.Kind)
		return nil
	},
	Article: "macOS 2015: n=24108 with \"broken pipe\" after 655360 bytes in whole Writes (679,468 in total)",
}

type dieOutcome struct {
	N       int              `json:"n"`
	Total   int              `json:"total"`
	Writes  int              `json:"writes_done"`
	Err     scenario.ErrInfo `json:"err"`
	AfterMS float64          `json:"returned_after_ms"` // after the client told the server to die
	Block   block            `json:"block"`
}

// WritePartialPeerDiesObs is what write-partial-peer-dies observed; N,
// Total and Error repeat the first trial's.
type WritePartialPeerDiesObs struct {
	Outcomes  []dieOutcome     `json:"outcomes"` // one per trial
	NPositive int              `json:"n_positive"`
	NZero     int              `json:"n_zero"`
	N         int              `json:"n"`
	Total     int              `json:"total"` // bytes of whole Writes + n
	Error     scenario.ErrInfo `json:"error"`
}
