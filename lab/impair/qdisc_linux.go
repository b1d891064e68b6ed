package impair

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// The qdiscs the agent owns on eth0: netem, or TBF for a rate, under its
// own handle, never one it did not make.

func (a *Agent) netem(attrs netlink.NetemQdiscAttrs) error {
	l, err := netlink.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := rootFree(l); err != nil {
		return err
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: ownHandle, Parent: netlink.HANDLE_ROOT}, attrs)
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
	if err := rootFree(l); err != nil {
		return err
	}
	rate := uint64(kbit) * 1000 / 8 // bytes/s
	// The bucket holds 20 ms of the rate, and at least three full frames:
	// a packet larger than the bucket would never pass. The kernel takes
	// the bucket as time, in psched ticks of 64 ns (tc converts for you).
	burst := max(rate/50, 3*1514)
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: ownHandle, Parent: netlink.HANDLE_ROOT},
		Rate:       rate, Limit: uint32(max(rate/4, 16<<10, burst)),
		Buffer: uint32(min(burst*1e9/rate/64, 1<<31)),
	}
	if err := netlink.QdiscReplace(q); err != nil {
		return fmt.Errorf("impair: tbf: %w", err)
	}
	a.qdisc = true
	return nil
}

// ownHandle is the handle of the root qdisc (netem or TBF) the agent adds.
var ownHandle = netlink.MakeHandle(0x7f, 0)

// netemFor puts s's delay, jitter, loss and rate on eth0's egress.
func (a *Agent) netemFor(s Spec) error {
	if !NetemAvailable() {
		return errors.New("impair: mechanism netem: this kernel has no sch_netem (use delayline or auto)")
	}
	return a.netem(netlink.NetemQdiscAttrs{Latency: us(s.Delay), Jitter: us(s.Jitter),
		Loss: float32(s.Loss * 100), Rate64: uint64(s.RateKbit) * 1000 / 8})
}

// removeQdisc removes the root qdisc the agent added to eth0, if any.
func (a *Agent) removeQdisc() error {
	a.qdisc = false
	l, err := netlink.LinkByName("eth0")
	if err != nil {
		return nil
	}
	qs, _ := netlink.QdiscList(l)
	var errs []error
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == ownHandle {
			errs = append(errs, netlink.QdiscDel(q))
		}
	}
	return errors.Join(errs...)
}

// rootFree refuses to replace a root qdisc the agent did not add: only the
// kernel's default (handle 0, e.g. noqueue on a veth) or its own may go.
func rootFree(l netlink.Link) error {
	qs, err := netlink.QdiscList(l)
	if err != nil {
		return fmt.Errorf("impair: listing %s's qdiscs: %w", l.Attrs().Name, err)
	}
	for _, q := range qs {
		if h := q.Attrs().Handle; q.Attrs().Parent == netlink.HANDLE_ROOT && h != 0 && h != ownHandle {
			return fmt.Errorf("impair: %s already has a root qdisc (%s, handle %x:) that this agent did not add: refusing to replace it",
				l.Attrs().Name, q.Type(), h>>16)
		}
	}
	return nil
}
