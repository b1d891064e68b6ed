package scenarios

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// backlogSlowAccept: with the accept queue full, a dial's SYNs are dropped
// until an accept frees a slot; the dial then completes at the client's next
// SYN retransmission, so its duration is one of 1, 3, 7, 15 s.
var backlogSlowAccept = &scenario.Scenario{
	ID:      "backlog-slow-accept",
	Section: "2 Connection set-up",
	Title:   "server accepts one connection every A seconds: blocked dials finish on SYN retransmissions",
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "server.somaxconn", Default: "4", Kind: scenario.Int, Min: 1, Max: 256},
		{Name: "server.accept_every", Default: "2s", Kind: scenario.Duration, Min: 0.2, Max: 10},
		{Name: "client.blocked_dials", Default: "3", Kind: scenario.Int, Min: 1, Max: 16},
	},
	Obs:    scenario.ObsOf[BacklogSlowAcceptObs](),
	Server: acceptEvery,
	Client: func(e *scenario.Env) error {
		s := e.Knobs.Int("server.somaxconn")
		k := e.Knobs.Int("client.blocked_dials")
		every := e.Knobs.Duration("server.accept_every")
		conns, _, _ := fill(e, s+1, 500*time.Millisecond)
		defer closeAll(conns)
		if len(conns) != s+1 {
			return fmt.Errorf("could not fill the accept queue: %d of %d", len(conns), s+1)
		}
		durations := make([]time.Duration, k)
		errs := make([]error, k)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := net.Dialer{Timeout: 40 * time.Second}
				c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
				durations[i], errs[i] = time.Since(start), err
				if c != nil {
					defer c.Close()
				}
			}()
		}
		time.Sleep(50 * time.Millisecond) // let every first SYN leave before accepts start
		if err := e.Signal("start"); err != nil {
			return err
		}
		wg.Wait()
		var accepts []float64
		_ = e.Get("accepts", &accepts)
		slots, _, _, _ := scenario.LocalSynSchedule()
		var ms []float64
		var snapped []float64
		quantised, early := true, false
		for i, d := range durations {
			if errs[i] != nil {
				return fmt.Errorf("blocked dial %d failed: %w", i, errs[i])
			}
			ms = append(ms, scenario.Ms(d))
			slot, ok := scenario.OnSynSlot(d, slots)
			snapped = append(snapped, slot.Seconds())
			quantised = quantised && ok
			early = early || d < every
		}
		if err := e.Record(&BacklogSlowAcceptObs{BlockedDialMS: ms, NearestSynSlotS: snapped, AcceptsMS: accepts}); err != nil {
			return err
		}
		e.Expect("durations sit on the SYN schedule (slot −10 ms … slot×1.125 +250 ms)", quantised, "durations %v ms", ms)
		e.Expect("no blocked dial completes before the first accept", !early, "first accept after %v; durations %v ms", every, ms)
		e.Headline("accept every %v → blocked dials took %v s", every, snapped)
		return nil
	},
	Article: "the article's dials waited for accepts without saying when; here they land on SYN retransmissions",
}

// BacklogSlowAcceptObs is what backlog-slow-accept observed.
type BacklogSlowAcceptObs struct {
	// BlockedDialMS is each blocked dial's duration, from just before the
	// dials started.
	BlockedDialMS   []float64 `json:"blocked_dial_ms"`
	NearestSynSlotS []float64 `json:"nearest_syn_slot_s"` // the SYN slot each duration sits on
	AcceptsMS       []float64 `json:"accepts_ms"`         // when the server accepted, as it published
}
