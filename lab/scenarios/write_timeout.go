package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// writeTimeout: as write-block, but every Write carries a deadline
// (SetWriteDeadline before each call, as the article's client6). Writes
// that find room return whole; the one that blocks returns at its deadline
// with "i/o timeout" and the part of its chunk the kernel took. With pinned
// buffers that n repeats, so the trial runs on a few connections. The
// article's 10 µs deadline works too (client.write_deadline=10us): Writes
// that find room ignore the deadline, but one may start after it passed and
// return 0 at once, so only n ≥ 0 and the error are checked then.
var writeTimeout = &scenario.Scenario{
	ID:      "write-timeout",
	Section: "3 Read and Write",
	Title:   "peer does not read, each Write has a deadline: the blocked one returns a partial n with i/o timeout",
	Timeout: 60 * time.Second,
	Weight:  fixed(3600 * time.Millisecond),
	// Not writeKnobs: this driver writes with deadlines rather than
	// filling until blocked, so it reads neither client.write_buffer nor
	// client.quiet. The sink reads server.read_buffer.
	Knobs: []scenario.Knob{
		knobChunk,
		knobSinkReadBuffer,
		{Name: "client.write_deadline", Default: "200ms", Kind: scenario.Duration, Min: 0, Max: 10, Help: "deadline set before each Write"},
		{Name: "client.trials", Default: "5", Kind: scenario.Int, Min: 1, Max: 50},
		{Name: "client.tcp_wmem", Default: "4096 131072 131072", Kind: scenario.Text, Help: "pinned so n repeats"},
		{Name: "server.tcp_rmem", Default: "4096 16384 16384", Kind: scenario.Text, Help: "pinned so n repeats"},
	},
	Cases:  []scenario.Knobs{{}, {"client.write_deadline": "10us"}},
	Obs:    scenario.ObsOf[WriteTimeoutObs](),
	Server: sink("hold"),
	Client: func(e *scenario.Env) error {
		dl := e.Knobs.Duration("client.write_deadline")
		chunk := e.Knobs.Int("client.chunk")
		var o WriteTimeoutObs
		for i := range e.Knobs.Int("client.trials") {
			c, err := dialTCP(e)
			if err != nil {
				return err
			}
			w := startWriter(c, chunk, dl)
			r, err := w.result(20 * time.Second)
			if err != nil {
				c.Close()
				return fmt.Errorf("trial %d: no Write timed out: %w", i, err)
			}
			acc, err := accepted(c)
			c.Close()
			if errors.Is(err, errNoTCPInfo) {
				acc = -1
			} else if err != nil {
				return err
			}
			o.Outcomes = append(o.Outcomes, timeoutOutcome{N: r.n, Writes: int(w.writes.Load()), Accepted: acc,
				Err: scenario.Classify(r.err), TookMS: scenario.Ms(r.took)})
		}
		return e.Record(&o)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *WriteTimeoutObs, v *scenario.Verdict) {
		dl, chunk := k.Duration("client.write_deadline"), k.Int("client.chunk")
		v.Expect("one outcome per trial", len(o.Outcomes) == k.Int("client.trials"), "%d outcomes, %d trials", len(o.Outcomes), k.Int("client.trials"))
		if len(o.Outcomes) == 0 {
			return
		}
		allTimeout, inRange, matches, counted := true, true, true, true
		var ns []int
		var took []time.Duration
		for _, t := range o.Outcomes {
			allTimeout = allTimeout && t.Err.Kind == "ErrDeadlineExceeded" && t.Err.Timeout && strings.Contains(t.Err.Text, "i/o timeout")
			inRange = inRange && t.N >= 0 && t.N < chunk
			counted = counted && t.Accepted >= 0
			// n is the part of the chunk the kernel took before the
			// deadline: the Writes done plus n is the kernel's count.
			matches = matches && t.Writes*chunk+t.N == t.Accepted
			ns = append(ns, t.N)
			took = append(took, fromMS(t.TookMS))
		}
		v.Expect("the blocked Write ends with a timeout (os.ErrDeadlineExceeded, \"i/o timeout\")", allTimeout, "outcomes %+v", o.Outcomes)
		v.Expect("0 ≤ n < chunk: the timed-out Write did not complete", inRange, "n %v, chunk %d", ns, chunk)
		if counted {
			v.Expect("Writes done × chunk + n = bytes the kernel took", matches, "outcomes %+v", o.Outcomes)
		} else {
			v.Unmeasured("Writes done × chunk + n = bytes the kernel took", scenario.NoTCPInfoCounters, "outcomes %+v", o.Outcomes)
		}
		if dl >= 10*time.Millisecond {
			// Go's netpoller wakes the parked Write at its deadline: never
			// before, and late only by scheduling (the median 10 % + 20 ms).
			v.TimelyAll("the Write returns at its deadline", took, dl, 0.1, 20*time.Millisecond)
			_, count := mode(ns)
			v.Expect("with pinned buffers n repeats: "+stableNote, 2*count > len(ns), "n %v", ns)
		}
		first := o.Outcomes[0]
		common, count := mode(ns)
		v.Headline("deadline %v per Write: n=%d with %s after %d whole Writes, %d bytes in total (n=%d on %d of %d trials: %v)",
			dl, first.N, first.Err.Kind, first.Writes, first.Writes*chunk+first.N, common, count, len(ns), ns)
	}),
	Article: "macOS 2015: n=24108 with \"i/o timeout\" after 655360 bytes (10 µs deadline per Write)",
}

type timeoutOutcome struct {
	N        int              `json:"n" tcplab:"headline"` // what the timed-out Write returned
	Writes   int              `json:"writes_done"`         // whole Writes before it
	Accepted int              `json:"accepted"`            // kernel's count after the timeout; -1 where TCP_INFO has no counters
	Err      scenario.ErrInfo `json:"err"`
	TookMS   float64          `json:"took_ms"` // the timed-out Write call
}

// WriteTimeoutObs is what write-timeout observed: one outcome per trial.
type WriteTimeoutObs struct {
	Outcomes []timeoutOutcome `json:"outcomes"`
}
