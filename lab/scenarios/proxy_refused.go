package scenarios

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// proxyRefused: the same proxy in front of a port where nothing listens.
// The proxy accepts the dial, its own backend dial is refused at once, and
// it closes the client's connection: the dialer's Dial succeeds and its
// first Read returns EOF (or ECONNRESET), where a direct dial would have
// failed with ECONNREFUSED (dial-refused). Code that treats a successful
// Dial as "the service is up" is fooled by every published port.
var proxyRefused = &scenario.Scenario{
	ID:      "proxy-refused",
	Section: "6 The network in between",
	Title:   "a userland port proxy in front of a closed port: Dial succeeds, the first Read returns EOF instead of ECONNREFUSED",
	Timeout: 30 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.dials", Default: "5", Kind: scenario.Int, Min: 1, Max: 200, Help: "serial dials through the proxy"},
	},
	Obs:       scenario.ObsOf[ProxyRefusedObs](),
	Server:    proxyServer(false),
	Published: publishedRefused,
	Client: func(e *scenario.Env) error {
		n := e.Knobs.Int("client.dials")
		host, _, _ := net.SplitHostPort(e.Addr())
		d := net.Dialer{Timeout: 2 * time.Second}
		c, direct := d.DialContext(e.Ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(proxyBackendPort)))
		if c != nil {
			c.Close()
		}
		conns := probeProxy(e.Ctx, e.Addr(), n, refusedDialTimeout, refusedHold)
		if err := e.Signal("count"); err != nil {
			return err
		}
		var rep proxyServerReport
		if err := e.GetWait("proxy", &rep, 5*time.Second); err != nil {
			return err
		}
		f := countFates(conns)
		o := ProxyRefusedObs{Mechanism: ProxyMechanism, Dials: n, Succeeded: n - f[FateNoDial], Ended: f[FateEnded], Conns: conns,
			SlowestReadMS: slowestRead(conns), Direct: scenario.Classify(direct), ProxyLog: rep.Log}
		if err := e.Record(&o); err != nil {
			return err
		}
		e.Expect("a direct dial of the closed port: errors.Is(err, syscall.ECONNREFUSED)", errors.Is(direct, syscall.ECONNREFUSED), "%v", direct)
		e.Expect("every dial through the proxy succeeds", o.Succeeded == n, "%d of %d", o.Succeeded, n)
		e.Expect("every first Read returns EOF or ECONNRESET", o.Ended == n, "fates %v", f)
		e.Expect("at once: well under 100 ms from the dial", o.SlowestReadMS < 100, "slowest %.1f ms", o.SlowestReadMS)
		refused := 0
		for _, l := range rep.Log {
			if l.Error.Kind == "ECONNREFUSED" {
				refused++
			}
		}
		e.Expect("the proxy's own backend dial was refused, once per connection", refused == n && len(rep.Log) == n,
			"%d ECONNREFUSED of %d logged failures", refused, len(rep.Log))
		e.Headline("%s: direct dial %s; %d/%d dials succeed through the proxy, first Read %d× EOF/reset, slowest %.1f ms",
			ProxyMechanism, o.Direct.Kind, o.Succeeded, n, o.Ended, o.SlowestReadMS)
		return nil
	},
	Article: "not in the article: behind Docker's port proxy a refused connection looks like one the server closed",
}

// ProxyRefusedObs is what proxy-refused observed.
type ProxyRefusedObs struct {
	Mechanism     string      `json:"mechanism"` // go-connections/proxy
	Dials         int         `json:"dials"`
	Succeeded     int         `json:"succeeded"` // dials the proxy accepted
	Ended         int         `json:"ended"`     // first Reads that returned EOF or ECONNRESET
	Conns         []ProxyConn `json:"conns"`
	SlowestReadMS float64     `json:"slowest_read_ms"` // the latest first Read's return, from its dial
	// Direct is a dial straight to the server's backend port, where nothing
	// listens on any address: the contrast the proxy hides.
	Direct   scenario.ErrInfo `json:"direct"`
	ProxyLog []ProxyLogLine   `json:"proxy_log"` // the proxy's backend dial failures
	// Published is what the host saw through Docker's own publishing of a
	// closed port; null where the port was not published (compose).
	Published *PublishedObs `json:"published"`
}

// A refused backend dial takes a loopback round trip; a Read still
// waiting after refusedHold would be a failure, not a measurement.
const (
	refusedDialTimeout = 2 * time.Second
	refusedHold        = 2 * time.Second
)

func slowestRead(cs []ProxyConn) float64 {
	var m float64
	for _, c := range cs {
		m = max(m, c.ReadMS)
	}
	return m
}

// publishedRefused is proxy-refused's host probe: the same dials through
// Docker's publishing of the server's PublishedPort, where nothing listens.
// docker-proxy accepts and its dial is refused (EOF at once); with iptables
// DNAT the host's dial itself is refused.
func publishedRefused(ctx context.Context, addr string, k scenario.Knobs) (scenario.Merge, error) {
	n := k.Int("client.dials")
	cs := probeProxy(ctx, addr, n, refusedDialTimeout, refusedHold)
	p := newPublishedObs(addr, refusedHold, cs)
	refused := 0
	for _, c := range cs {
		if c.Dial.Kind == "ECONNREFUSED" {
			refused++
		}
	}
	switch {
	case p.Succeeded == n:
		p.Mechanism = viaDockerProxy
	case refused == n:
		p.Mechanism = viaDNAT
	}
	return func(r *scenario.Result) error {
		err := scenario.Amend(r, func(o *ProxyRefusedObs, expect func(string, bool, string, ...any)) {
			o.Published = p
			expect("published: the host port's mechanism is recognised", p.Mechanism != viaUnknown,
				"%s; %d of %d dials succeeded, %d refused", p.Mechanism, p.Succeeded, n, refused)
			if p.Mechanism == viaDockerProxy {
				expect("published via docker-proxy: every first Read returns EOF or reset, well under 100 ms", p.Ended == n && slowestRead(cs) < 100,
					"fates %v, slowest %.1f ms", countFates(cs), slowestRead(cs))
			}
			if p.Mechanism == viaDNAT {
				expect("published via iptables DNAT: every dial refused", refused == n, "%d of %d refused", refused, n)
			}
		})
		r.Headline += "; " + p.Describe()
		return err
	}, nil
}
