//go:build linux

package netimpair_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/netimpair"
)

// TestPeers: with Peers, only the named other ends see the impairment.
// This host dials the target from its bridge address: attached with
// another peer named, its dials pass untouched; attached with its own
// address named, they take the RTT.
func TestPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctr, addr := service(t, ctx)
	c, _ := echoConn(t, addr)
	me := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap() // the target's peer: this host
	c.Close()
	b := me.As4()
	b[3] ^= 0x80 // a neighbour on the same network, never dialled
	other := netip.AddrFrom4(b)

	const rtt = 40 * time.Millisecond
	for _, tc := range []struct {
		peer    netip.Addr
		delayed bool
	}{{other, false}, {me, true}} {
		h, err := netimpair.Attach(ctx, ctr, netimpair.RTT(rtt), netimpair.Peers(tc.peer))
		if err != nil {
			t.Fatal(err)
		}
		if h.Mechanism() != netimpair.DelayLine {
			t.Errorf("Peers attached with %s; want the delay line", h.Mechanism())
		}
		var connects []time.Duration
		for range 5 {
			c, took := echoConn(t, addr)
			connects = append(connects, took)
			c.Close()
		}
		if tc.delayed {
			within(t, "connect from the named peer ("+me.String()+")", rtt, connects...)
		} else {
			baseline(t, "connect from a peer not named (only "+other.String()+" is)", connects...)
		}
		if err := h.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
