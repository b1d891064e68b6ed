package scenarios

import (
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
)

// dialLossy: the agent drops a fraction p of SYNs. A dial whose first k SYNs
// are lost completes at SYN slot k (0, 1, 3 s with tcp_syn_retries=2 and
// linear timeouts off), which happens with probability p^k·(1−p); a dial
// whose every SYN is lost fails with ETIMEDOUT at the give-up (7 s).
//
// Each slot's count is Binomial(n, p^k·(1−p)). With p = 0.5 the rarest
// buckets (slot 3 s and failed) have p = 1/8; 500 dials put their
// expected 62.5 inside a 1e-4/4 binomial interval that excludes both 31
// and 125, so a schedule that doubled or halved a bucket's share fails.
// (440 is the least n that does so; 80, the old default, admitted 0–22
// where 10 were expected.)
var dialLossy = &scenario.Scenario{
	ID:      "dial-lossy",
	Section: "2 Connection set-up",
	Title:   "a fraction p of SYNs is dropped: dial durations cluster on the SYN schedule",
	Sidecar: true,
	Timeout: 90 * time.Second,
	Weight:  synGiveUp,
	// Quiet: beside twelve runs starting at once (a CI `tcplab run`) 40 of
	// 80 dials landed in the 1 s slot, where p=0.5 puts 20.
	Load: scenario.Quiet,
	Knobs: []scenario.Knob{
		{Name: "impair.syn_loss", Default: "0.5", Kind: scenario.Fraction, Help: "fraction of SYNs dropped (impair.loss is every packet)"},
		{Name: "client.dials", Default: "500", Kind: scenario.Int, Min: 10, Max: 2000, Help: "dials, all started at once"},
		{Name: "client.tcp_syn_retries", Default: "2", Kind: scenario.Int, Min: 1, Max: 5},
	},
	Obs:    scenario.ObsOf[DialLossyObs](),
	Server: acceptAll,
	Client: func(e *scenario.Env) error {
		p := e.Knobs.Float("impair.syn_loss")
		n := e.Knobs.Int("client.dials")
		slots, giveUp, retries, linear := tcpmodel.LocalSynSchedule()
		if err := e.Impair(impair.Spec{DropSYN: p}); err != nil {
			return err
		}
		o := DialLossyObs{TCPSynRetries: retries, TCPSynLinearTimeouts: linear, DurationsMS: []float64{}, Failed: []lossyFailure{}}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				start := time.Now()
				d := net.Dialer{Timeout: giveUp + 5*time.Second}
				c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
				took := time.Since(start)
				if c != nil {
					c.Close()
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					o.Failed = append(o.Failed, lossyFailure{TookMS: scenario.Ms(took), Err: scenario.Classify(err)})
					return
				}
				o.DurationsMS = append(o.DurationsMS, scenario.Ms(took))
			})
		}
		wg.Wait()
		dropped, err := e.Dropped()
		if err != nil {
			return err
		}
		o.SynsDropped = dropped
		o.Histogram = lossyCounts(slots, o.DurationsMS, len(o.Failed)).hist(slots)
		return e.Record(&o)
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *DialLossyObs, v *scenario.Verdict) {
		p, n := k.Float("impair.syn_loss"), k.Int("client.dials")
		sends, giveUp := synSysctls(k, v, o.TCPSynRetries, o.TCPSynLinearTimeouts)
		v.Expect("one outcome per dial", len(o.DurationsMS)+len(o.Failed) == n, "%d completed + %d failed, %d dials", len(o.DurationsMS), len(o.Failed), n)
		counts := lossyCounts(sends, o.DurationsMS, len(o.Failed))
		// A SYN timer fires late by up to 1/8 of its slot and never early
		// (but for one jiffy); 250 ms covers scheduling and the round
		// trip, well under the 1 s between the closest slots.
		v.Expect("every completed dial sits on a SYN slot (slot −10 ms … slot×1.125 + 250 ms)", counts.off == 0,
			"%d of %d off the schedule %v: %v ms", counts.off, len(o.DurationsMS), sends, o.DurationsMS)
		failedOK := true
		for _, f := range o.Failed {
			// connect gives up when the give-up timer fires: on the
			// schedule's give-up slot, by the same timer bounds.
			failedOK = failedOK && f.Err.Kind == "ETIMEDOUT" && synSlotOf(fromMS(f.TookMS), append(sends, giveUp)) == len(sends)
		}
		v.Expect(fmt.Sprintf("a dial whose every SYN was dropped fails with ETIMEDOUT at the give-up (%v −10 ms … ×1.125 + 250 ms)", giveUp),
			failedOK, "%+v", o.Failed)
		// The statistical checks share the run's false-alarm rate.
		alpha := scenario.FalseAlarm / float64(len(counts.n))
		for i, c := range counts.n {
			name := fmt.Sprintf("dials on SYN slot %d (%v): p^%d·(1−p)", i, sendOr(sends, i), i)
			share := math.Pow(p, float64(i)) * (1 - p)
			if i == len(sends) {
				name, share = fmt.Sprintf("dials that failed: p^%d", i), math.Pow(p, float64(i))
			}
			v.Count(name, c, n, share, alpha)
		}
		// A dial on slot k lost k SYNs; a failed one lost all of them.
		inferred := 0
		for i, c := range counts.n {
			inferred += i * c
		}
		v.Expect("nf_tables dropped exactly the SYNs the durations imply", o.SynsDropped == uint64(inferred),
			"nft counter %d, inferred from durations %d", o.SynsDropped, inferred)
		v.Headline("p=%.2f, %d dials: %s", p, n, histLine(sends, counts.n))
	}),
	Article: "not in the article (it only had a slow public address)",
}

func sendOr(sends []time.Duration, i int) string {
	if i < len(sends) {
		return fmt.Sprint(sends[i])
	}
	return "failed"
}

// slotCounts counts dials by the SYN slot they completed on; the last
// bucket counts failed dials, off those on no slot.
type slotCounts struct {
	n   []int
	off int
}

func lossyCounts(sends []time.Duration, durations []float64, failed int) slotCounts {
	c := slotCounts{n: make([]int, len(sends)+1)}
	for _, d := range durations {
		if i := synSlotOf(fromMS(d), sends); i >= 0 {
			c.n[i]++
		} else {
			c.off++
		}
	}
	c.n[len(sends)] = failed
	return c
}

func (c slotCounts) hist(sends []time.Duration) map[string]int {
	h := map[string]int{}
	for i, s := range sends {
		h[fmt.Sprintf("%gs", s.Seconds())] = c.n[i]
	}
	h["failed"] = c.n[len(sends)]
	return h
}

// histLine renders "0s 40, 1s 20, …, failed 2".
func histLine(slots []time.Duration, counts []int) string {
	var b strings.Builder
	for i, s := range slots {
		fmt.Fprintf(&b, "%gs %d, ", s.Seconds(), counts[i])
	}
	fmt.Fprintf(&b, "failed %d", counts[len(slots)])
	return b.String()
}

// DialLossyObs is what dial-lossy observed.
type DialLossyObs struct {
	// TCPSynRetries and TCPSynLinearTimeouts are the client's sysctls in
	// force (linear 0 where the kernel lacks it): they give the schedule.
	TCPSynRetries        int `json:"tcp_syn_retries"`
	TCPSynLinearTimeouts int `json:"tcp_syn_linear_timeouts"`
	// DurationsMS is each completed dial's duration, from before its
	// first SYN.
	DurationsMS []float64      `json:"durations_ms" tcplab:"headline"`
	Failed      []lossyFailure `json:"failed"`                      // the dials that did not complete
	SynsDropped uint64         `json:"syns_dropped" tcplab:"exact"` // nf_tables' counter
	// Histogram counts dials by the SYN slot they completed on ("0s", "1s",
	// "3s", …) and "failed", for the report: the verdicts count the
	// durations themselves.
	Histogram map[string]int `json:"histogram" tcplab:"info"`
}

type lossyFailure struct {
	TookMS float64          `json:"took_ms"`
	Err    scenario.ErrInfo `json:"err"`
}
