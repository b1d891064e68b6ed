package impair

import (
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	"net/netip"
)

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

// notLoopback matches packets that did not arrive on lo ("meta iif != 1":
// lo is interface 1 in every network namespace), notLoopbackOut those not
// leaving on it ("meta oif != 1").
func notLoopback() []expr.Any    { return notOn(expr.MetaKeyIIF) }
func notLoopbackOut() []expr.Any { return notOn(expr.MetaKeyOIF) }

func notOn(key expr.MetaKey) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(1)},
	}
}

// saddr matches IPv4 packets from a, daddr those to a: the address at
// offset 12 or 16 of the IP header.
func saddr(a netip.Addr) []expr.Any { return addrAt(12, a) }
func daddr(a netip.Addr) []expr.Any { return addrAt(16, a) }

func addrAt(offset uint32, a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
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

// countExprs counts the packets that match parts and lets them go on: the
// loss rules' denominator, so the realised loss can be judged.
func countExprs(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return append(out, &expr.Counter{})
}

func dropExprs(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return append(out, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// ruleCounts sums the counters of chain's rules in t: those of rules that
// let packets on (the loss rules' denominators) and those of rules that
// drop, or queue for the agent to drop (LossOut's picks).
func ruleCounts(c *nftables.Conn, t *nftables.Table, chain string) (seen, dropped uint64, err error) {
	rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rules {
		var packets uint64
		drops := false
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Counter:
				packets += e.Packets
			case *expr.Verdict:
				drops = e.Kind == expr.VerdictDrop
			case *expr.Target: // NFQUEUE: only LossOut queues on output
				drops = true
			}
		}
		if drops {
			dropped += packets
		} else {
			seen += packets
		}
	}
	return seen, dropped, nil
}
