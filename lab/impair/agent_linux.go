package impair

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tableName is the prefix of every nf_tables table the agent makes: a table
// of a killed agent outlives it, and is removed by the next agent's Init.
const tableName = "tcplab"

// Agent applies and removes impairments. It is safe for concurrent use.
type Agent struct {
	// Table names the nf_tables tables the agent makes (Table,
	// Table+"_delay" and Table+"_out"). Empty, they are tcplab's, and Init
	// removes every tcplab* table: the lab's own namespaces hold nothing
	// else. Set, Init removes only those three, which a killed predecessor
	// of the same name left, and never touches another table.
	Table   string
	mu      sync.Mutex
	started time.Time
	table   *nftables.Table
	qdisc   bool
	line    *delayLine
	out     lossOut
}

// Init removes tables a killed agent left in this namespace: a stale queue
// rule beside a new one would queue every packet twice.
func (a *Agent) Init() error {
	a.started = time.Now()
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("impair: nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return fmt.Errorf("impair: listing nf_tables tables: %w (does the agent have CAP_NET_ADMIN?)", err)
	}
	for _, t := range tables {
		if a.Table == "" && strings.HasPrefix(t.Name, tableName) ||
			a.Table != "" && (t.Name == a.Table || t.Name == a.Table+"_delay" || t.Name == a.Table+"_out") {
			c.DelTable(t)
		}
	}
	return c.Flush()
}

func (a *Agent) tableName() string {
	if a.Table == "" {
		return tableName
	}
	return a.Table
}

// NetemAvailable reports whether sch_netem can be used here, by adding a
// netem qdisc to the loopback device and removing it again (ENOENT: the
// kernel has no sch_netem).
func NetemAvailable() bool {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return false
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: lo.Attrs().Index, Handle: netlink.MakeHandle(0x7e, 0), Parent: netlink.HANDLE_ROOT}, netlink.NetemQdiscAttrs{Latency: 1})
	if err := netlink.QdiscAdd(q); err != nil {
		return false
	}
	_ = netlink.QdiscDel(q)
	return true
}

// QueueAvailable reports whether the delay line can run here: the
// kernel takes an NFQUEUE rule (xt_NFQUEUE through nft_compat) in a
// throwaway table, and a queue can be bound (nfnetlink_queue). It needs
// CAP_NET_ADMIN in a network namespace of its own: the preflight's.
func QueueAvailable() bool {
	const probe = "tcplab_probe"
	if err := addQueueRules(probe, []int{9}, nil); err != nil {
		return false
	}
	_ = deleteQueueTable(probe)
	nf, err := nfqueue.Open(&nfqueue.Config{NfQueue: queueNum, MaxQueueLen: 1, Copymode: nfqueue.NfQnlCopyMeta, AfFamily: unix.AF_INET, WriteTimeout: time.Second})
	if err != nil {
		return false
	}
	_ = nf.Close()
	return true
}

// Apply installs spec on top of what is there.
func (a *Agent) Apply(s Spec) (Applied, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out Applied
	if s.Port <= 0 && !s.AllTCP && (s.DropSYN > 0 || s.DropAll || s.Loss > 0 || s.LossOut > 0 || s.Delays()) {
		return out, errors.New("impair: a port is needed")
	}
	var rules [][]expr.Any
	var outRules [][]expr.Any
	if s.DropSYN > 0 {
		rules = append(rules, dropExprs(dport(s.Port), synOnly(), random(s.DropSYN)))
	}
	if s.DropAll {
		rules = append(rules, dropExprs(dport(s.Port)))
		outRules = append(outRules, dropExprs(sport(s.Port)))
	}
	lossOut, picks := s.LossOut, outMatches(s)
	if s.Loss > 0 && !s.Delays() {
		if s.LossOut > 0 {
			return out, errors.New("impair: Loss without a mechanism and LossOut both drop what leaves: give one")
		}
		// In by a drop rule; out as LossOut does it (a drop rule on output
		// is a failed send to TCP, not a loss), counted in SentOut and
		// DroppedOut: what leaves from the port.
		lossOut, picks = s.Loss, nil
		for _, p := range append([]int{s.Port}, s.AlsoPorts...) {
			rules = append(rules, countExprs(dport(p)), dropExprs(dport(p), random(s.Loss)))
			picks = append(picks, sport(p))
		}
	}
	if len(rules)+len(outRules) > 0 {
		if err := a.addRules(rules, outRules); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, NFTables)
	}
	if lossOut > 0 {
		if err := a.setLossOut(lossOut, picks); err != nil {
			return out, err
		}
		if !slices.Contains(out.Mechanisms, NFTables) {
			out.Mechanisms = append(out.Mechanisms, NFTables)
		}
	}
	if s.Delays() {
		m, err := a.delay(s)
		if err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, m)
	}
	// netem and TBF would both be eth0's root qdisc: netem carries the rate.
	if s.RateKbit > 0 && !slices.Contains(out.Mechanisms, Netem) {
		if err := a.tbf(s.RateKbit); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, TBF)
	}
	return out, nil
}

// delay starts netem or the delay line for s's Delay, Jitter and Loss.
// pickMechanism resolves Auto (or ""): netem where the kernel has
// sch_netem, else the delay line. Other names pass through.
func pickMechanism(m string) string {
	if m == "" || m == Auto {
		m = DelayLine
		if NetemAvailable() {
			m = Netem
		}
	}
	return m
}

func (a *Agent) delay(s Spec) (string, error) {
	m := pickMechanism(s.Mechanism)
	switch m {
	case Netem:
		// Only the port's traffic should be delayed, but netem sits on the
		// whole of eth0's egress (the side channels too); untested here,
		// as this kernel has no sch_netem.
		return m, a.netemFor(s)
	case DelayLine:
		if a.line != nil {
			return m, errors.New("impair: a delay line already runs here")
		}
		l, err := startDelayLine(s, a.tableName()+"_delay")
		if err != nil {
			return m, err
		}
		a.line = l
		return m, nil
	}
	return m, fmt.Errorf("impair: unknown mechanism %q (want auto, netem or delayline)", m)
}

func us(d time.Duration) uint32 { return uint32(d / time.Microsecond) }

// Clear removes every impairment this agent installed. The delay line goes
// first, in the order that never stalls a flow: its rules, then every held
// packet (released now), then its table.
func (a *Agent) Clear() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	if a.line != nil {
		errs = append(errs, a.line.stop())
		a.line = nil
	}
	if a.table != nil {
		c, err := nftables.New()
		if err == nil {
			c.DelTable(a.table)
			err = c.Flush()
		}
		errs = append(errs, err)
		a.table = nil
	}
	if a.qdisc {
		errs = append(errs, a.removeQdisc())
	}
	errs = append(errs, a.setLossOut(0, nil))
	return errors.Join(errs...)
}

// Crash is impair.crash's fault drill, inside the agent, so the network
// namespace the agent's container owns stays up: "kill" abandons the delay
// line as a dying consumer would (held packets lost, later ones bypass it),
// "term" stops it the clean way (every held packet, later ones in order,
// then the rules and the table), as SIGTERM does. Either way the run's end-of-run check finds no
// delay line doing its work and fails the run.
func (a *Agent) Crash(mode string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.line == nil {
		return errors.New("impair: crash: no delay line runs")
	}
	switch mode {
	case "kill":
		a.line.crash() // kept: its counters carry the failure
		return nil
	case "term":
		err := a.line.stop()
		a.line = nil
		return err
	}
	return fmt.Errorf("impair: crash: unknown mode %q", mode)
}

// ClearDrops removes the nf_tables drop rules (a scenario's own SYN or
// connection drops) and leaves the run's delay, loss and rate in place.
func (a *Agent) ClearDrops() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.table == nil {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.DelTable(a.table)
	a.table = nil
	return c.Flush()
}

// Counters sums the packets matched by the drop rules and by the loss
// rules' counters, and reads the delay line's account.
func (a *Agent) Counters() (Counters, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out Counters
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		out.CPUMS = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	out.UpMS = float64(time.Since(a.started).Microseconds()) / 1000
	if a.line != nil {
		lc := a.line.counters()
		out.DelayLine = &lc
	}
	var err error
	if out.SentOut, out.DroppedOut, err = a.lossOutCounts(); err != nil {
		return out, err
	}
	if a.table == nil {
		return out, nil
	}
	c, err := nftables.New()
	if err != nil {
		return out, err
	}
	for _, ch := range []string{"input", "output"} {
		seen, dropped, err := ruleCounts(c, a.table, ch)
		if err != nil {
			return out, err
		}
		out.Seen, out.Dropped = out.Seen+seen, out.Dropped+dropped
	}
	return out, nil
}

func (a *Agent) addRules(in, out [][]expr.Any) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("impair: nftables: %w", err)
	}
	if a.table == nil {
		a.table = c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: a.tableName()})
		for _, h := range []struct {
			name string
			hook *nftables.ChainHook
		}{{"input", nftables.ChainHookInput}, {"output", nftables.ChainHookOutput}} {
			c.AddChain(&nftables.Chain{Name: h.name, Table: a.table, Type: nftables.ChainTypeFilter,
				Hooknum: h.hook, Priority: nftables.ChainPriorityFilter})
		}
	}
	for _, r := range in {
		c.AddRule(&nftables.Rule{Table: a.table, Chain: &nftables.Chain{Name: "input", Table: a.table}, Exprs: r})
	}
	for _, r := range out {
		c.AddRule(&nftables.Rule{Table: a.table, Chain: &nftables.Chain{Name: "output", Table: a.table}, Exprs: r})
	}
	if err := c.Flush(); err != nil {
		a.table = nil
		return fmt.Errorf("impair: nftables: %w (does the agent have CAP_NET_ADMIN?)", err)
	}
	return nil
}

// Update makes s the agent's whole impairment (delay, jitter, loss, rate)
// without a gap: a running delay line takes the new delay, jitter and loss
// in place (packets it holds keep their release times, and none is
// reordered), netem and TBF are replaced in one netlink request, and what s
// no longer asks for is removed. s's ports and mechanism must be those the
// delay line started with; drops (DropSYN, DropAll) are Apply's only.
func (a *Agent) Update(s Spec) (Applied, error) {
	var out Applied
	if s.DropSYN > 0 || s.DropAll || (s.Loss > 0 && !s.Delays()) {
		return out, errors.New("impair: update: drops and loss without a mechanism are Apply's")
	}
	if s.LossOut > 0 && s.Port <= 0 && !s.AllTCP {
		return out, errors.New("impair: a port is needed")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	m := pickMechanism(s.Mechanism)
	if m != Netem && m != DelayLine {
		return out, fmt.Errorf("impair: unknown mechanism %q (want auto, netem or delayline)", m)
	}
	if m == Netem && len(s.Peers) > 0 {
		return out, fmt.Errorf("impair: netem cannot select peers %v: use the delay line", s.Peers)
	}
	wantLine := s.Delays() && m == DelayLine
	if a.line != nil && !wantLine {
		err := a.line.stop()
		a.line = nil
		if err != nil {
			return out, err
		}
	}
	if wantLine {
		if a.line == nil {
			l, err := startDelayLine(s, a.tableName()+"_delay")
			if err != nil {
				return out, err
			}
			a.line = l
		} else if err := a.line.set(s); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, DelayLine)
	}
	switch {
	case s.Delays() && m == Netem:
		if err := a.netemFor(s); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, Netem)
	case s.RateKbit > 0:
		if err := a.tbf(s.RateKbit); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, TBF)
	case a.qdisc:
		if err := a.removeQdisc(); err != nil {
			return out, fmt.Errorf("impair: removing the root qdisc: %w", err)
		}
	}
	if err := a.setLossOut(s.LossOut, outMatches(s)); err != nil {
		return out, err
	}
	if s.LossOut > 0 {
		out.Mechanisms = append(out.Mechanisms, NFTables)
	}
	return out, nil
}
