package scenarios

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// backlogSlowAccept: with the accept queue full, a dial's SYNs are dropped
// until an accept frees a slot; the dial then completes at the client's next
// SYN retransmission, so its duration is one of 1, 3, 7, 15 s.
var backlogSlowAccept = &scenario.Scenario{
	ID:      "backlog-slow-accept",
	Section: "2 Connection set-up",
	Title:   "server accepts one connection every A seconds: blocked dials finish on SYN retransmissions",
	Timeout: 60 * time.Second,
	Weight:  fixed(5 * time.Second),
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
		_, _, retries, linear := tcpmodel.LocalSynSchedule()
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
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("blocked dial %d failed: %w", i, err)
			}
		}
		o := BacklogSlowAcceptObs{TCPSynRetries: retries, TCPSynLinearTimeouts: linear, AcceptsMS: []float64{}}
		for _, d := range durations {
			o.BlockedDialMS = append(o.BlockedDialMS, scenario.Ms(d))
		}
		if err := e.Get("accepts", &o.AcceptsMS); err != nil {
			return err
		}
		return e.Record(&o)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *BacklogSlowAcceptObs, v *scenario.Verdict) {
		every, blocked := k.Duration("server.accept_every"), k.Int("client.blocked_dials")
		sends, _ := synSysctls(k, v, o.TCPSynRetries, o.TCPSynLinearTimeouts)
		v.Expect("one duration per blocked dial", len(o.BlockedDialMS) == blocked, "%d durations, %d dials", len(o.BlockedDialMS), blocked)
		// The server's ticker fires at j·A from its start: never early,
		// late by scheduling only.
		onTime := true
		for j, a := range o.AcceptsMS {
			onTime = onTime && tcpmodel.OnTime(fromMS(a), time.Duration(j+1)*every, 0, acceptLate)
		}
		v.Expect(fmt.Sprintf("the server accepts every %v (accept j at j·%v, ≤ %v late)", every, every, acceptLate),
			onTime && len(o.AcceptsMS) > 0, "accepts at %v ms", o.AcceptsMS)
		got := make([]int, 0, len(o.BlockedDialMS))
		for _, d := range o.BlockedDialMS {
			got = append(got, synSlotOf(fromMS(d), sends))
		}
		v.Expect("every blocked dial completes on a SYN slot (slot −10 ms … slot×1.125 + 250 ms)", !slices.Contains(got, -1),
			"durations %v ms, SYNs at %v", o.BlockedDialMS, sends)
		// Which slot: an accept frees one place in the queue; the next
		// SYN retransmission then passes. Every SYN that arrives before
		// the freed place is taken passes too (the check is "queue over
		// backlog" at the SYN), so the dials complete between the
		// earliest (all of them at the first slot after an accept) and
		// the latest (one per accept) the accept times allow.
		early := blockedSlots(sends, blocked, o.AcceptsMS, every, true)
		late := blockedSlots(sends, blocked, o.AcceptsMS, every, false)
		slices.Sort(got)
		within := len(got) == blocked
		for i := range min(len(got), blocked) {
			within = within && got[i] >= early[i] && got[i] <= late[i]
		}
		v.Expect("the blocked dials complete at the SYN slots the accepts free (one per accept, or together when their SYNs race)",
			within, "slots %v, want %v … %v (SYNs at %v, accepts at %v ms)", slotTimes(got, sends), slotTimes(early, sends),
			slotTimes(late, sends), sends, o.AcceptsMS)
		v.Headline("accept every %v → blocked dials took %v s", every, slotTimes(got, sends))
	}),
	Article: "the article's dials waited for accepts without saying when; here they land on SYN retransmissions",
}

// acceptLate is how late the server's accept may come after its tick.
const acceptLate = 100 * time.Millisecond

// signalLate bounds how long the "start" signal takes to reach the
// server after the client's 50 ms pause: the server's clock for the
// accepts starts between 50 ms and 50 ms + signalLate after the dials.
const signalLate = 250 * time.Millisecond

// blockedSlots predicts the slot index (into sends; len(sends) for none)
// at which each of k dials blocked behind a full accept queue completes,
// sorted. accepts are the server's accept times (ms from its start), as
// many as it had published when the client asked; later ones follow its
// ticker, at j·every (≤ acceptLate late), and are taken from that. With
// race, an accept counts before a slot if it could have come before the
// slot's latest SYN, and every waiting dial passes once the queue has a
// place; without, an accept counts only if it surely came before the
// slot's earliest SYN, and one dial passes per free place.
func blockedSlots(sends []time.Duration, k int, accepts []float64, every time.Duration, race bool) []int {
	all := slices.Clone(accepts)
	if every > 0 && len(sends) > 0 {
		for j := len(all) + 1; time.Duration(j)*every <= sends[len(sends)-1]; j++ {
			at := time.Duration(j) * every
			if !race {
				at += acceptLate
			}
			all = append(all, scenario.Ms(at))
		}
	}
	var out []int
	for i, s := range sends {
		n := 0
		for _, a := range all {
			at := 50*time.Millisecond + fromMS(a) // earliest, in the client's time
			if race && at < tcpmodel.LateBound(s, 1.0/8, 250*time.Millisecond) ||
				!race && at+signalLate < s-10*time.Millisecond {
				n++
			}
		}
		free, waiting := n-len(out), k-len(out)
		if free <= 0 || waiting <= 0 {
			continue
		}
		pass := min(free, waiting)
		if race {
			pass = waiting
		}
		for range pass {
			out = append(out, i)
		}
	}
	for len(out) < k {
		out = append(out, len(sends))
	}
	return out
}

// slotTimes renders slot indices as seconds ("never" past the schedule).
func slotTimes(idx []int, sends []time.Duration) []string {
	var out []string
	for _, i := range idx {
		switch {
		case i < 0:
			out = append(out, "off")
		case i >= len(sends):
			out = append(out, "never")
		default:
			out = append(out, fmt.Sprintf("%gs", sends[i].Seconds()))
		}
	}
	return out
}

// BacklogSlowAcceptObs is what backlog-slow-accept observed.
type BacklogSlowAcceptObs struct {
	// TCPSynRetries and TCPSynLinearTimeouts are the client's sysctls in
	// force: they give the SYN schedule.
	TCPSynRetries        int `json:"tcp_syn_retries"`
	TCPSynLinearTimeouts int `json:"tcp_syn_linear_timeouts"`
	// BlockedDialMS is each blocked dial's duration, from just before the
	// dials started.
	BlockedDialMS []float64 `json:"blocked_dial_ms" tcplab:"headline"`
	AcceptsMS     []float64 `json:"accepts_ms"` // when the server accepted, from its start, as it published
}
