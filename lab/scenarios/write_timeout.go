package scenarios

import (
	"errors"
	"fmt"
	"os"
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
	Knobs: writeKnobs(
		scenario.Knob{Name: "client.write_deadline", Default: "200ms", Kind: scenario.Duration, Min: 0, Max: 10, Help: "deadline set before each Write"},
		scenario.Knob{Name: "client.trials", Default: "5", Kind: scenario.Int, Min: 1, Max: 50},
		scenario.Knob{Name: "client.tcp_wmem", Default: "4096 131072 131072", Kind: scenario.Text, Help: "pinned so n repeats"},
		scenario.Knob{Name: "server.tcp_rmem", Default: "4096 16384 16384", Kind: scenario.Text, Help: "pinned so n repeats"},
	),
	Cases:  []scenario.Knobs{{}, {"client.write_deadline": "10us"}},
	Obs:    scenario.ObsOf[WriteTimeoutObs](),
	Server: sink("hold"),
	Client: func(e *scenario.Env) error {
		dl := e.Knobs.Duration("client.write_deadline")
		chunk := e.Knobs.Int("client.chunk")
		var outcomes []timeoutOutcome
		allTimeout, inRange, matches, onTime := true, true, true, true
		var ns []int
		noInfo := "" // why the kernel's count could not be read
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
				acc, noInfo = -1, err.Error()
			} else if err != nil {
				return err
			}
			o := timeoutOutcome{N: r.n, Total: int(w.done.Load()) + r.n, Writes: int(w.writes.Load()), Accepted: acc,
				Err: scenario.Classify(r.err), TookMS: scenario.Ms(r.took)}
			outcomes = append(outcomes, o)
			allTimeout = allTimeout && errors.Is(r.err, os.ErrDeadlineExceeded) && o.Err.Timeout
			inRange = inRange && r.n < chunk
			matches = matches && o.Total == acc
			// Go wakes the parked Write at its deadline: never before, and
			// late only by scheduling.
			onTime = onTime && scenario.OnTime(r.took, dl, 0, 250*time.Millisecond)
			ns = append(ns, o.N)
		}
		common, count := mode(ns)
		if err := e.Record(&WriteTimeoutObs{Outcomes: outcomes, N: common, NAll: ns, Total: outcomes[0].Total, Error: outcomes[0].Err}); err != nil {
			return err
		}
		e.Expect("the blocked Write ends with a timeout (os.ErrDeadlineExceeded, \"i/o timeout\")", allTimeout, "outcomes %+v", outcomes)
		e.Expect("n < chunk: the timed-out Write did not complete", inRange, "outcomes %+v", outcomes)
		// n is the part of the chunk the kernel took before the deadline:
		// Writes done + n is the kernel's count after the timeout.
		if noInfo != "" {
			e.Unmeasured("Writes done + n = bytes the kernel took", "%s", noInfo)
		} else {
			e.Expect("Writes done + n = bytes the kernel took", matches, "outcomes %+v", outcomes)
		}
		if dl >= 10*time.Millisecond {
			e.Expect("the Write returns at its deadline (D … D+250 ms)", onTime, "D=%v, outcomes %+v", dl, outcomes)
			e.Expect("with pinned buffers n repeats: "+stableNote, 2*count > len(ns), "n %v", ns)
		}
		e.Headline("deadline %v per Write: n=%d with %s after %d whole Writes, %d bytes in total (n on %d of %d trials: %v)",
			dl, outcomes[0].N, outcomes[0].Err.Kind, outcomes[0].Writes, outcomes[0].Total, count, len(ns), ns)
		return nil
	},
	Article: "macOS 2015: n=24108 with \"i/o timeout\" after 655360 bytes (10 µs deadline per Write)",
}

type timeoutOutcome struct {
	N        int              `json:"n"`
	Total    int              `json:"total"`
	Writes   int              `json:"writes_done"`
	Accepted int              `json:"accepted"` // kernel's count after the timeout; -1 where TCP_INFO has no counters
	Err      scenario.ErrInfo `json:"err"`
	TookMS   float64          `json:"took_ms"` // the timed-out Write call
}

// WriteTimeoutObs is what write-timeout observed; Total and Error repeat
// the first trial's.
type WriteTimeoutObs struct {
	Outcomes []timeoutOutcome `json:"outcomes"` // one per trial
	N        int              `json:"n"`        // the most common n with the timeout
	NAll     []int            `json:"n_all"`
	Total    int              `json:"total"`
	Error    scenario.ErrInfo `json:"error"`
}
