package impair

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// LossOut drops a fraction of what the namespace sends: the other
// direction from the delay line's Loss, which drops on ingress. A rule on
// output picks the fraction (numgen random) and queues it to NFQUEUE, and
// this program drops every packet it is given. Dropping in the rule itself
// would not be a loss on the wire: a locally sent packet that a hook drops
// returns an error to TCP, which keeps the segment and sends it again on
// the next ACK, as if nothing had left. A queued packet counts as sent
// (the hook stole it), so TCP finds its loss as a peer would make it: by
// duplicate ACKs or a timer. The rules live in a table of their own
// (Table+"_out"), so a change replaces them in one transaction.

// lossOutQueue is LossOut's queue number, beside the delay line's.
const lossOutQueue = queueNum + 1

// lossOut is the agent's LossOut: the fraction in force (0: no table and
// no queue), what its rules match, its queue, and its counts.
type lossOut struct {
	fraction float64
	matches  [][]expr.Any
	nf       *nfqueue.Nfqueue
	cancel   context.CancelFunc
	sent     uint64        // counted by rules since replaced
	dropped  atomic.Uint64 // every packet the queue was given
}

func (a *Agent) lossOutTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: a.tableName() + "_out"}
}

// setLossOut drops fraction of the packets out of this namespace that
// matches match (outMatches). Rules that match as before and pick the same
// fraction are left as they are (their counters go on); others are
// replaced, their counts kept. A fraction of 0 removes them.
func (a *Agent) setLossOut(fraction float64, matches [][]expr.Any) error {
	if fraction == a.out.fraction && (fraction == 0 || reflect.DeepEqual(matches, a.out.matches)) {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("impair: nftables: %w", err)
	}
	t := a.lossOutTable()
	if a.out.fraction > 0 {
		sent, _, err := ruleCounts(c, t, "output")
		if err != nil {
			return fmt.Errorf("impair: loss out: reading its counters: %w", err)
		}
		a.out.sent += sent
	}
	if fraction > 0 && a.out.nf == nil {
		// The queue first: a packet is never queued with nobody to drop it.
		if err := a.out.open(); err != nil {
			return err
		}
	}
	if fraction == 0 {
		c.DelTable(t)
	} else {
		c.AddTable(t)
		ch := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter})
		c.FlushChain(ch)
		for _, m := range matches {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: countExprs(m)})
			pick := append(append(slices.Clone(m), random(fraction)...), &expr.Counter{}, queueTarget(lossOutQueue))
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: pick})
		}
	}
	if err := ruleError(c.Flush()); err != nil {
		return fmt.Errorf("loss out: %w", err)
	}
	if fraction == 0 {
		a.out.close()
	}
	a.out.fraction, a.out.matches = fraction, matches
	return nil
}

// open binds LossOut's queue; every packet it is given is dropped.
func (o *lossOut) open() error {
	nf, err := nfqueue.Open(&nfqueue.Config{NfQueue: lossOutQueue, MaxQueueLen: queueMaxLen, Copymode: nfqueue.NfQnlCopyMeta,
		Flags: nfqueue.NfQaCfgFlagGSO, AfFamily: unix.AF_INET, WriteTimeout: time.Second})
	if err != nil {
		return fmt.Errorf("impair: loss out: opening NFQUEUE: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	drop := func(at nfqueue.Attribute) int {
		if at.PacketID != nil && nf.SetVerdict(*at.PacketID, nfqueue.NfDrop) == nil {
			o.dropped.Add(1)
		}
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, drop, func(error) int { return 0 }); err != nil {
		cancel()
		nf.Close()
		return fmt.Errorf("impair: loss out: binding queue %d: %w", lossOutQueue, err)
	}
	o.nf, o.cancel = nf, cancel
	return nil
}

// close unbinds the queue, once its rules are gone.
func (o *lossOut) close() {
	if o.nf == nil {
		return
	}
	o.cancel()
	o.nf.Close()
	o.nf, o.cancel = nil, nil
}

// lossOutCounts is what LossOut did since the agent started: the packets
// its rules looked at and those it dropped.
func (a *Agent) lossOutCounts() (sent, dropped uint64, err error) {
	sent, dropped = a.out.sent, a.out.dropped.Load()
	if a.out.fraction == 0 {
		return sent, dropped, nil
	}
	c, err := nftables.New()
	if err != nil {
		return sent, dropped, err
	}
	now, _, err := ruleCounts(c, a.lossOutTable(), "output")
	return sent + now, dropped, err
}

// outMatches are the packets out of the namespace s's LossOut is about:
// from or to its ports (every TCP packet not on lo with AllTCP), and to
// its peers only when it names them.
func outMatches(s Spec) [][]expr.Any {
	var ms [][]expr.Any
	if s.AllTCP {
		ms = [][]expr.Any{append(tcp(), notLoopbackOut()...)}
	} else {
		for _, p := range append([]int{s.Port}, s.AlsoPorts...) {
			ms = append(ms, sport(p), dport(p))
		}
	}
	if len(s.Peers) == 0 {
		return ms
	}
	var out [][]expr.Any
	for _, peer := range s.Peers {
		for _, m := range ms {
			out = append(out, append(slices.Clone(m), daddr(peer)...))
		}
	}
	return out
}
