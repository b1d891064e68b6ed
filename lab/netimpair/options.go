package netimpair

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
)

// Mechanism is what delays and loses packets.
type Mechanism string

const (
	// Auto takes netem where the Docker host's kernel has sch_netem and no
	// Ports are given, else the delay line.
	Auto Mechanism = impair.Auto
	// Netem is the kernel's sch_netem on the target's eth0 egress.
	Netem Mechanism = impair.Netem
	// DelayLine is tcplab's NFQUEUE delay line on the target's ingress.
	DelayLine Mechanism = impair.DelayLine
)

// Option sets one part of an impairment.
type Option func(*config)

type config struct {
	rtt, jitter time.Duration
	loss        float64
	lossOut     float64
	rateBps     int64
	ports       []int
	peers       []netip.Addr
	mech        Mechanism
	replace     bool
	image       string
	errs        []error
}

// MaxRTT is the largest RTT (and Jitter) accepted.
const MaxRTT = time.Minute

// RTT adds d to every round trip between the target and its peers, the
// TCP handshake included (0 to MaxRTT).
func RTT(d time.Duration) Option {
	return func(c *config) {
		if d < 0 || d > MaxRTT {
			c.errs = append(c.errs, fmt.Errorf("RTT %v: want 0 to %v", d, MaxRTT))
		}
		c.rtt = d
	}
}

// Jitter varies the added RTT uniformly by ± d (at most the RTT); packets
// are never reordered, so a packet may wait for the one before it.
func Jitter(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("jitter %v: want ≥ 0", d))
		}
		c.jitter = d
	}
}

// Loss drops this fraction (0 to 1) of the TCP packets into the target
// (out of it with netem).
func Loss(fraction float64) Option {
	return func(c *config) {
		if !(fraction >= 0 && fraction <= 1) {
			c.errs = append(c.errs, fmt.Errorf("loss %v: want a fraction from 0 to 1", fraction))
		}
		c.loss = fraction
	}
}

// LossOut drops this fraction (0 to 1, in steps of 0.001) of the TCP
// packets out of the target, within Ports and Peers as the rest, whatever
// the mechanism (it needs NFQUEUE). The target's TCP takes each for sent
// and finds it lost as on a wire, by duplicate ACKs or a timer. With the
// delay line, whose Loss drops packets into the target, each direction has
// its own loss; Counters' SentOut and DroppedOut tell the realised one.
func LossOut(fraction float64) Option {
	return func(c *config) {
		if !(fraction >= 0 && fraction <= 1) {
			c.errs = append(c.errs, fmt.Errorf("loss out %v: want a fraction from 0 to 1", fraction))
		}
		c.lossOut = fraction
	}
}

// Rate limits what the target sends on eth0 to bitsPerSecond (at least
// 8000, in steps of 1000).
func Rate(bitsPerSecond int64) Option {
	return func(c *config) {
		if bitsPerSecond != 0 && (bitsPerSecond < 8000 || bitsPerSecond > 100e9) {
			c.errs = append(c.errs, fmt.Errorf("rate %d bit/s: want 8000 to 100e9, or 0 for none", bitsPerSecond))
		}
		c.rateBps = bitsPerSecond
	}
}

// Ports restricts the impairment to TCP packets to or from these ports.
// Default: all TCP. Fixed at Attach.
func Ports(ports ...int) Option {
	return func(c *config) {
		for _, p := range ports {
			if p < 1 || p > 65535 {
				c.errs = append(c.errs, fmt.Errorf("port %d: want 1 to 65535", p))
			}
		}
		c.ports = append(c.ports, ports...)
	}
}

// Peers restricts the impairment to packets between the target and these
// IPv4 addresses (its other ends: a client container, the host's bridge
// address); the target's traffic with anyone else passes untouched.
// Default: every peer. Fixed at Attach. Only the delay line can select
// peers (Auto takes it), and Rate, a limit on all the target sends,
// cannot.
func Peers(addrs ...netip.Addr) Option {
	return func(c *config) {
		for _, a := range addrs {
			if !a.Is4() {
				c.errs = append(c.errs, fmt.Errorf("peer %v: want an IPv4 address", a))
			}
		}
		c.peers = append(c.peers, addrs...)
	}
}

// WithMechanism picks the mechanism (default Auto). Fixed at Attach.
func WithMechanism(m Mechanism) Option {
	return func(c *config) {
		if m != Auto && m != Netem && m != DelayLine {
			c.errs = append(c.errs, fmt.Errorf("mechanism %q: want auto, netem or delayline", m))
		}
		c.mech = m
	}
}

// ReplaceExisting lets Attach remove another netimpair sidecar already
// attached to the target instead of refusing, even one whose owner lives
// or cannot be judged here (another machine's, an older tcplab's). A
// sidecar whose owner is dead is removed without it.
func ReplaceExisting() Option { return func(c *config) { c.replace = true } }

// SidecarImage runs the sidecar from ref, an image with tcplab's static
// Linux binary at /tcplab (pulled unless the daemon has it), instead of
// the default: EnvSidecarImage, else a release's published image
// (PublishedRepo), else one built from this module's source.
func SidecarImage(ref string) Option { return func(c *config) { c.image = ref } }

func newConfig(opts []Option) (*config, error) {
	c := &config{mech: Auto}
	for _, o := range opts {
		o(c)
	}
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("netimpair: %w", c.errs[0])
	}
	if c.jitter > c.rtt {
		return nil, fmt.Errorf("netimpair: jitter %v is above the RTT %v", c.jitter, c.rtt)
	}
	if c.mech == Netem && len(c.ports) > 0 {
		return nil, fmt.Errorf("netimpair: netem delays all of eth0 and cannot select ports %v: use DelayLine or Auto", c.ports)
	}
	if len(c.peers) > 0 && c.mech == Netem {
		return nil, fmt.Errorf("netimpair: netem delays all of eth0 and cannot select peers %v: use DelayLine or Auto", c.peers)
	}
	if len(c.peers) > 0 && c.rateBps > 0 {
		return nil, fmt.Errorf("netimpair: Rate limits all the target sends and cannot select peers %v", c.peers)
	}
	slices.Sort(c.ports)
	c.ports = slices.Compact(c.ports)
	slices.SortFunc(c.peers, netip.Addr.Compare)
	c.peers = slices.Compact(c.peers)
	return c, nil
}

// spec is c as the agent takes it, for the resolved mechanism m.
func (c *config) spec(m Mechanism) impair.Spec {
	s := impair.Spec{AllTCP: len(c.ports) == 0, Delay: c.rtt, Jitter: c.jitter, Loss: c.loss, LossOut: c.lossOut,
		RateKbit: int(c.rateBps / 1000), Mechanism: string(m), Peers: c.peers}
	if len(c.ports) > 0 {
		s.Port, s.AlsoPorts = c.ports[0], c.ports[1:]
	}
	return s
}

// String says what c asks for, as the CLI prints it.
func (c *config) String() string {
	s := fmt.Sprintf("RTT +%v", c.rtt)
	if c.jitter > 0 {
		s += fmt.Sprintf(" ± %v", c.jitter)
	}
	if c.loss > 0 {
		s += fmt.Sprintf(", loss %g %%", c.loss*100)
	}
	if c.lossOut > 0 {
		s += fmt.Sprintf(", loss out %g %%", c.lossOut*100)
	}
	if c.rateBps > 0 {
		s += fmt.Sprintf(", rate %d kbit/s", c.rateBps/1000)
	}
	if len(c.ports) > 0 {
		s += fmt.Sprintf(", TCP ports %v", c.ports)
	} else {
		s += ", all TCP"
	}
	if len(c.peers) > 0 {
		s += fmt.Sprintf(", with %v only", c.peers)
	}
	return s
}

// Validate checks opts as Attach would, starting nothing.
func Validate(opts ...Option) error {
	_, err := newConfig(opts)
	return err
}
