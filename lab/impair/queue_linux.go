package impair

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// addQueueRules creates table ip <table> with a prerouting chain at
// priority -300 whose rules queue TCP to or from each port (every TCP
// packet when ports is nil), with bypass. Loopback traffic is never
// queued: the delay is between hosts.
func addQueueRules(table string, ports []int, peers []netip.Addr) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("impair: nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: table})
	prio := nftables.ChainPriority(-300)
	ch := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: &prio})
	matches := [][]expr.Any{tcp()}
	if ports != nil {
		matches = nil
		for _, p := range ports {
			matches = append(matches, dport(p), sport(p))
		}
	}
	from := [][]expr.Any{nil} // every source
	if len(peers) > 0 {
		from = nil
		for _, a := range peers {
			from = append(from, saddr(a))
		}
	}
	for _, src := range from {
		for _, match := range matches {
			exprs := append(append(append(notLoopback(), src...), match...), &expr.Counter{}, queueTarget(queueNum))
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
		}
	}
	return ruleError(c.Flush())
}

// queueTarget queues a packet to queue num, with bypass (accepted while
// no program listens): xt_NFQUEUE revision 3, whose info is the queue
// number, the queues total, the flags and padding, in host order.
func queueTarget(num uint16) *expr.Target {
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1)
	binary.NativeEndian.PutUint16(info[4:], xtQueueBypass)
	x := xt.Unknown(info)
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &x}
}

// ruleError says what the kernel's refusal of the delay line's rule
// means: no such target (ENOENT) is a kernel without NFQUEUE; anything
// else, most likely a missing capability.
func ruleError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: delay line rules: %w", ErrNoQueue, err)
	}
	return fmt.Errorf("impair: delay line rules: %w (does the agent have CAP_NET_ADMIN?)", err)
}

func flushQueueRules(table string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}
	c.FlushChain(&nftables.Chain{Name: "prerouting", Table: t})
	return c.Flush()
}

func deleteQueueTable(table string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: table})
	return c.Flush()
}
