package netimpair

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		opts []Option
		want string // "" for valid
	}{
		{[]Option{RTT(40 * time.Millisecond)}, ""},
		{[]Option{RTT(-time.Millisecond)}, "RTT -1ms"},
		{[]Option{RTT(2 * time.Minute)}, "RTT 2m0s"},
		{[]Option{RTT(10 * time.Millisecond), Jitter(20 * time.Millisecond)}, "jitter 20ms is above the RTT"},
		{[]Option{Loss(1.5)}, "loss 1.5"},
		{[]Option{Loss(-0.1)}, "loss -0.1"},
		{[]Option{LossOut(1.2)}, "loss out 1.2"},
		{[]Option{LossOut(-0.1)}, "loss out -0.1"},
		{[]Option{WithMechanism(Netem), LossOut(0.01), Loss(0.01)}, ""},
		{[]Option{Rate(100)}, "rate 100"},
		{[]Option{Ports(0)}, "port 0"},
		{[]Option{Ports(70000)}, "port 70000"},
		{[]Option{WithMechanism("tc")}, `mechanism "tc"`},
		{[]Option{WithMechanism(Netem), Ports(80)}, "netem delays all of eth0"},
		{[]Option{WithMechanism(DelayLine), Ports(80), Loss(0.01), Rate(1e6)}, ""},
		{[]Option{RTT(time.Millisecond), Peers(netip.MustParseAddr("172.18.0.3"))}, ""},
		{[]Option{Peers(netip.MustParseAddr("fd00::1"))}, "peer fd00::1: want an IPv4 address"},
		{[]Option{WithMechanism(Netem), Peers(netip.MustParseAddr("172.18.0.3"))}, "netem delays all of eth0 and cannot select peers"},
		{[]Option{Rate(1e6), Peers(netip.MustParseAddr("172.18.0.3"))}, "Rate limits all the target sends"},
	} {
		err := Validate(c.opts...)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.want, err, c.want)
		}
	}
}

func TestSpec(t *testing.T) {
	c, err := newConfig([]Option{RTT(40 * time.Millisecond), Jitter(5 * time.Millisecond), Loss(0.01), Rate(1_500_000), Ports(443, 80, 443)})
	if err != nil {
		t.Fatal(err)
	}
	s := c.spec(DelayLine)
	if s.AllTCP || s.Port != 80 || len(s.AlsoPorts) != 1 || s.AlsoPorts[0] != 443 || s.Delay != 40*time.Millisecond ||
		s.Jitter != 5*time.Millisecond || s.Loss != 0.01 || s.RateKbit != 1500 || s.Mechanism != impair.DelayLine {
		t.Errorf("spec %+v", s)
	}
	// The whole round trip on the target's side: no halving, and loss
	// alone still goes through the mechanism (one direction).
	c, _ = newConfig([]Option{Loss(0.02)})
	if s := c.spec(DelayLine); !s.AllTCP || s.Port != 0 || !s.Delays() || s.Delay != 0 {
		t.Errorf("loss alone: spec %+v, want all TCP through the delay line", s)
	}
	if got := c.String(); got != "RTT +0s, loss 2 %, all TCP" {
		t.Errorf("String() = %q", got)
	}
	// Loss out alone needs no mechanism: nf_tables drops on output.
	c, _ = newConfig([]Option{LossOut(0.05), Ports(8080)})
	if s := c.spec(DelayLine); s.LossOut != 0.05 || s.Loss != 0 || s.Delays() || s.Port != 8080 {
		t.Errorf("loss out alone: spec %+v, want LossOut 0.05 on port 8080 and nothing delayed", s)
	}
	if got := c.String(); got != "RTT +0s, loss out 5 %, TCP ports [8080]" {
		t.Errorf("String() = %q", got)
	}
	a, b := netip.MustParseAddr("172.18.0.9"), netip.MustParseAddr("172.18.0.3")
	c, _ = newConfig([]Option{RTT(time.Millisecond), Peers(a, b, a)})
	if s := c.spec(DelayLine); len(s.Peers) != 2 || s.Peers[0] != b || s.Peers[1] != a {
		t.Errorf("peers: spec %+v, want [%v %v]", s.Peers, b, a)
	}
}
