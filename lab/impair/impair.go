// Package impair changes the network of the namespace it runs in: it drops
// TCP SYNs or whole connections with nf_tables, shapes bandwidth with TBF,
// and delays or loses packets with netem where the kernel has sch_netem.
// It runs in a sidecar that shares the server's network namespace and has
// only CAP_NET_ADMIN.
package impair

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Mechanism names, reported with every result that used an impairment.
const (
	NFTables = "nftables"
	Netem    = "netem"
	TBF      = "tbf"
)

// Spec is one impairment. Zero fields mean "not this".
type Spec struct {
	Port int `json:"port"` // the TCP port the rule is about (server side)
	// DropSYN drops this fraction (0..1] of SYNs to Port (a SYN without ACK).
	DropSYN float64 `json:"drop_syn,omitempty"`
	// DropAll drops every packet to and from Port, both directions.
	DropAll bool `json:"drop_all,omitempty"`
	// Loss drops this fraction of all packets to Port: netem where present,
	// else an nf_tables random-number rule.
	Loss float64 `json:"loss,omitempty"`
	// DelayMS delays every packet leaving eth0 (netem only).
	DelayMS int `json:"delay_ms,omitempty"`
	// RateKbit limits eth0's egress rate with TBF.
	RateKbit int `json:"rate_kbit,omitempty"`
}

// Applied says what Apply did and with which mechanism.
type Applied struct {
	Mechanisms []string `json:"mechanisms"`
}

// Counters are the packets the nf_tables rules matched.
type Counters struct {
	Dropped uint64 `json:"dropped"`
}

const tableName = "tcplab"

// Agent applies and removes impairments. It is safe for concurrent use.
type Agent struct {
	mu    sync.Mutex
	table *nftables.Table
	qdisc bool
}

// NetemAvailable reports whether sch_netem can be used here, by adding a
// netem qdisc to the loopback device and removing it again.
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

// Apply installs spec on top of what is there.
func (a *Agent) Apply(s Spec) (Applied, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out Applied
	if s.Port <= 0 && (s.DropSYN > 0 || s.DropAll || s.Loss > 0) {
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
	if s.Loss > 0 {
		if NetemAvailable() {
			if err := a.netem(netlink.NetemQdiscAttrs{Loss: float32(s.Loss * 100)}); err != nil {
				return out, err
			}
			out.Mechanisms = append(out.Mechanisms, Netem)
		} else {
			rules = append(rules, dropExprs(dport(s.Port), random(s.Loss)))
			outRules = append(outRules, dropExprs(sport(s.Port), random(s.Loss)))
		}
	}
	if len(rules)+len(outRules) > 0 {
		if err := a.addRules(rules, outRules); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, NFTables)
	}
	if s.DelayMS > 0 {
		if !NetemAvailable() {
			return out, errors.New("impair: delay needs sch_netem, which this kernel does not have")
		}
		if err := a.netem(netlink.NetemQdiscAttrs{Latency: uint32(s.DelayMS) * 1000}); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, Netem)
	}
	if s.RateKbit > 0 {
		if err := a.tbf(s.RateKbit); err != nil {
			return out, err
		}
		out.Mechanisms = append(out.Mechanisms, TBF)
	}
	return out, nil
}

// Clear removes every impairment this agent installed.
func (a *Agent) Clear() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
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
		if l, err := netlink.LinkByName("eth0"); err == nil {
			qs, _ := netlink.QdiscList(l)
			for _, q := range qs {
				if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(0x7f, 0) {
					errs = append(errs, netlink.QdiscDel(q))
				}
			}
		}
		a.qdisc = false
	}
	return errors.Join(errs...)
}

// Counters sums the packets matched by the drop rules.
func (a *Agent) Counters() (Counters, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out Counters
	if a.table == nil {
		return out, nil
	}
	c, err := nftables.New()
	if err != nil {
		return out, err
	}
	for _, ch := range []string{"input", "output"} {
		rules, err := c.GetRules(a.table, &nftables.Chain{Name: ch, Table: a.table})
		if err != nil {
			return out, err
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					out.Dropped += ctr.Packets
				}
			}
		}
	}
	return out, nil
}

func (a *Agent) addRules(in, out [][]expr.Any) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("impair: nftables: %w", err)
	}
	if a.table == nil {
		a.table = c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: tableName})
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

func (a *Agent) netem(attrs netlink.NetemQdiscAttrs) error {
	l, err := netlink.LinkByName("eth0")
	if err != nil {
		return err
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0x7f, 0), Parent: netlink.HANDLE_ROOT}, attrs)
	if err := netlink.QdiscReplace(q); err != nil {
		return fmt.Errorf("impair: netem: %w", err)
	}
	a.qdisc = true
	return nil
}

func (a *Agent) tbf(kbit int) error {
	l, err := netlink.LinkByName("eth0")
	if err != nil {
		return err
	}
	rate := uint64(kbit) * 1000 / 8
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0x7f, 0), Parent: netlink.HANDLE_ROOT},
		Rate:       rate, Limit: uint32(max(rate/4, 16<<10)), Buffer: uint32(max(rate/100, 3200)),
	}
	if err := netlink.QdiscReplace(q); err != nil {
		return fmt.Errorf("impair: tbf: %w", err)
	}
	a.qdisc = true
	return nil
}

// Expression builders: "meta l4proto tcp", "tcp dport P", "tcp flags & (syn|ack) == syn",
// "numgen random mod 100 < p", then "counter drop".
func tcp() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func portAt(offset uint32, p int) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(p))},
	}
}

func dport(p int) []expr.Any { return append(tcp(), portAt(2, p)...) }
func sport(p int) []expr.Any { return append(tcp(), portAt(0, p)...) }

func synOnly() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
	}
}

// random matches a fraction f of packets; f >= 1 matches all.
func random(f float64) []expr.Any {
	if f >= 1 {
		return nil
	}
	// numgen leaves a host-order u32 in the register and cmp "lt" compares
	// bytes (memcmp), so convert to network order first, as nft itself does.
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: 1000, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(f*1000 + 0.5))},
	}
}

func dropExprs(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return append(out, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}
