package scenarios

import (
	"fmt"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// writePartialPeerDies: the client is blocked in a Write when the server's
// socket is closed with unread data, as when its process dies; the server's
// kernel answers with RST. Go's Write had already handed part of the chunk
// to the kernel before it parked, so it returns that n together with the
// error (ECONNRESET for the first call after the RST, EPIPE after that).
// The trial repeats on fresh connections; n is judged against the
// kernel's count at the block on each.
var writePartialPeerDies = &scenario.Scenario{
	ID:      "write-partial-peer-dies",
	Section: "3 Read and Write",
	Title:   "client blocked in Write, the peer dies with unread data (RST): n > 0 and an error",
	Timeout: 90 * time.Second,
	Weight:  fixed(4400 * time.Millisecond),
	Knobs: writeKnobs(
		scenario.Knob{Name: "client.trials", Default: "5", Kind: scenario.Int, Min: 1, Max: 50, Help: "connections, each blocked then reset"},
		scenario.Knob{Name: "client.tcp_wmem", Default: "4096 131072 131072", Kind: scenario.Text, Help: "pinned so the total repeats"},
		scenario.Knob{Name: "server.tcp_rmem", Default: "4096 16384 16384", Kind: scenario.Text, Help: "pinned so the total repeats"},
	),
	Obs:    scenario.ObsOf[WritePartialPeerDiesObs](),
	Server: sink("die"),
	Client: func(e *scenario.Env) error {
		var o WritePartialPeerDiesObs
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
			o.Outcomes = append(o.Outcomes, dieOutcome{N: r.n, WritesAfter: int(w.writes.Load()), Err: scenario.Classify(r.err),
				AfterMS: scenario.Ms(r.at.Sub(start)), Block: b})
		}
		return e.Record(&o)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *WritePartialPeerDiesObs, v *scenario.Verdict) {
		chunk := k.Int("client.chunk")
		v.Expect("one outcome per trial", len(o.Outcomes) == k.Int("client.trials"), "%d outcomes, %d trials", len(o.Outcomes), k.Int("client.trials"))
		if len(o.Outcomes) == 0 {
			return
		}
		var blocks []block
		kindOK, nOK, stayed, prompt := true, true, true, true
		var ns []int
		var after []float64
		for _, t := range o.Outcomes {
			blocks = append(blocks, t.Block)
			ns = append(ns, t.N)
			after = append(after, t.AfterMS)
			kindOK = kindOK && dieErrKind(t.Err.Kind)
			// Go's Write returns the bytes its write(2) calls took of the
			// chunk before it parked: the kernel's count at the block
			// minus the whole Writes before it.
			nOK = nOK && t.N == t.Block.Accepted-t.Block.Writes*chunk
			// No Write completed between the block and the reset.
			stayed = stayed && t.WritesAfter == t.Block.Writes
			// The server's close sends the RST at once and the client's
			// kernel wakes the parked Write on it: no timer in between,
			// only the side channel's call (about a millisecond).
			prompt = prompt && t.AfterMS < dieWithinMS
		}
		v.Expect("the blocked Write returns "+dieErrNote, kindOK, "outcomes %+v", o.Outcomes)
		v.Expect("n = the part of the chunk the kernel took before Write parked", nOK, "n %v, blocks %+v", ns, blocks)
		v.Expect("no Write completed between the block and the reset", stayed, "outcomes %+v", o.Outcomes)
		v.Expect(fmt.Sprintf("the Write returns within %v ms of the server's close (the RST, no timer)", dieWithinMS), prompt, "after %v ms", after)
		blockVerdicts(k, blocks, v)
		positive := 0
		for _, n := range ns {
			if n > 0 {
				positive++
			}
		}
		first := o.Outcomes[0]
		v.Headline("peer reset while Write blocked, %d trials: n>0 in %d, n=0 in %d; first: n=%d %s after %d whole Writes, %d bytes in total",
			len(ns), positive, len(ns)-positive, first.N, first.Err.Kind, first.Block.Writes, first.Block.Writes*chunk+first.N)
	}),
	Article: "macOS 2015: n=24108 with \"broken pipe\" after 655360 bytes in whole Writes (679,468 in total)",
}

type dieOutcome struct {
	N           int              `json:"n" tcplab:"headline"`
	WritesAfter int              `json:"writes_done"` // Writes that returned whole, counted after the reset
	Err         scenario.ErrInfo `json:"err"`
	// AfterMS: from telling the server to die until the Write returned. No
	// timer sets it (see the verdict), so only an upper bound is judged.
	AfterMS float64 `json:"returned_after_ms" tcplab:"info"`
	Block   block   `json:"block"`
}

// WritePartialPeerDiesObs is what write-partial-peer-dies observed.
type WritePartialPeerDiesObs struct {
	Outcomes []dieOutcome `json:"outcomes"` // one per trial
}

// dieWithinMS: measured 0.1–0.9 ms.
const dieWithinMS = 100

// The RST sets the socket's error to ECONNRESET and wakes the parked
// Write, whose next write(2) reports it; EPIPE would come only to a call
// after that one.
const dieErrNote = "ECONNRESET (the RST's error, reported to the parked Write's next write(2))"

func dieErrKind(kind string) bool { return kind == "ECONNRESET" }
