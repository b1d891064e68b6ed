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
)

// dialLossy: the agent drops a fraction p of SYNs. A dial whose first k SYNs
// are lost completes at SYN slot k (0, 1, 3, 7, 15 s with linear timeouts
// off), which happens with probability p^k·(1−p); a dial whose every SYN is
// lost fails.
var dialLossy = &scenario.Scenario{
	ID:      "dial-lossy",
	Section: "2 Connection set-up",
	Title:   "a fraction p of SYNs is dropped: dial durations cluster on the SYN schedule",
	Sidecar: true,
	Timeout: 90 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "impair.syn_loss", Default: "0.5", Kind: scenario.Fraction, Help: "fraction of SYNs dropped (impair.loss is every packet)"},
		{Name: "client.dials", Default: "80", Kind: scenario.Int, Min: 10, Max: 2000, Help: "dials, all started at once"},
		{Name: "client.tcp_syn_retries", Default: "3", Kind: scenario.Int, Min: 1, Max: 5},
	},
	Obs:    scenario.ObsOf[DialLossyObs](),
	Server: acceptAll,
	Client: func(e *scenario.Env) error {
		p := e.Knobs.Float("impair.syn_loss")
		n := e.Knobs.Int("client.dials")
		slots, giveUp, _, linear := scenario.LocalSynSchedule()
		if err := e.Impair(impair.Spec{DropSYN: p}); err != nil {
			return err
		}
		counts := make([]int, len(slots)+1) // last bucket: failed
		var mu sync.Mutex
		var wg sync.WaitGroup
		offSlot, inferredDrops := 0, 0
		var durations []float64
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				d := net.Dialer{Timeout: giveUp + 5*time.Second}
				c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
				took := time.Since(start)
				if c != nil {
					c.Close()
				}
				mu.Lock()
				defer mu.Unlock()
				durations = append(durations, scenario.Ms(took))
				if err != nil {
					counts[len(slots)]++
					inferredDrops += len(slots)
					return
				}
				slot, ok := scenario.OnSynSlot(took, slots)
				if !ok {
					offSlot++
				}
				for i, s := range slots {
					if s == slot {
						counts[i]++
						inferredDrops += i
					}
				}
			}()
		}
		wg.Wait()
		dropped, err := e.Dropped()
		if err != nil {
			return err
		}
		hist := map[string]int{}
		for i, s := range slots {
			hist[fmt.Sprintf("%gs", s.Seconds())] = counts[i]
		}
		hist["failed"] = counts[len(slots)]
		if err := e.Record(&DialLossyObs{TCPSynLinearTimeouts: linear, Histogram: hist, DurationsMS: durations,
			SynsDropped: dropped, SynsDroppedInferred: inferredDrops}); err != nil {
			return err
		}
		e.Expect("every duration sits on a SYN slot (slot −10 ms … slot×1.125 +250 ms)", offSlot == 0, "%d of %d off the schedule", offSlot, n)
		// Each slot's share is binomial: allow 4 standard deviations (+1 dial).
		shares := true
		var detail string
		for i := range counts {
			want := math.Pow(p, float64(i)) * (1 - p)
			if i == len(slots) {
				want = math.Pow(p, float64(i))
			}
			tol := 4*math.Sqrt(want*(1-want)*float64(n)) + 1
			got := float64(counts[i])
			if math.Abs(got-want*float64(n)) > tol {
				shares = false
			}
			detail += fmt.Sprintf(" slot%d %d (want %.1f±%.1f)", i, counts[i], want*float64(n), tol)
		}
		e.Expect("each slot's share matches p^k·(1−p)", shares, "%s", detail)
		e.Expect("dropped SYNs counted by nf_tables match the durations", int(dropped) == inferredDrops,
			"nft counter %d, inferred from durations %d", dropped, inferredDrops)
		e.Headline("p=%.2f, %d dials: %s", p, n, histLine(slots, counts))
		return nil
	},
	Article: "not in the article (it only had a slow public address)",
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
	TCPSynLinearTimeouts int `json:"tcp_syn_linear_timeouts"`
	// Histogram counts dials by the SYN slot they completed on ("0s", "1s",
	// "3s", …) and "failed".
	Histogram   map[string]int `json:"histogram"`
	DurationsMS []float64      `json:"durations_ms"`
	SynsDropped uint64         `json:"syns_dropped"` // nf_tables' counter
	// SynsDroppedInferred is the drops the durations imply: k for a dial
	// on slot k, every SYN for a failed one.
	SynsDroppedInferred int `json:"syns_dropped_inferred"`
}
