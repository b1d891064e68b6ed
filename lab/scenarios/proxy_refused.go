package scenarios

import (
	"context"
	"fmt"
	"net"
	"strconv"
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
	Weight:  fixed(3 * time.Second),
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
		return e.Record(&ProxyRefusedObs{Mechanism: ProxyMechanism, Dials: n, Succeeded: n - f[FateNoDial], Ended: f[FateEnded], Conns: quick(conns),
			SlowestReadMS: slowestRead(conns), Direct: scenario.Classify(direct), ProxyLog: rep.Log})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ProxyRefusedObs, v *scenario.Verdict) {
		n := k.Int("client.dials")
		cs := asProxyConns(o.Conns)
		f := countFates(cs)
		v.Expect("a direct dial of the closed port: ECONNREFUSED", o.Direct.Kind == "ECONNREFUSED", "%+v", o.Direct)
		v.Expect("one connection per dial", len(cs) == n, "%d connections, %d dials", len(cs), n)
		v.Expect("every dial through the proxy succeeds", f[FateNoDial] == 0, "fates %v", f)
		v.Expect("every first Read returns EOF or ECONNRESET, with no data", f[FateEnded] == len(cs) && noData(cs), "fates %v", f)
		// "At once": the refusal is a loopback round trip, so no Read
		// comes near its deadline (a loopback round trip has no lower
		// bound to pin; the times are informational).
		v.Expect("at once: well before the Read's deadline (≤ 100 ms)", slowestRead(cs) <= 100, "slowest %.1f ms, deadline %v", slowestRead(cs), refusedHold)
		refused := 0
		for _, l := range o.ProxyLog {
			if l.Error.Kind == "ECONNREFUSED" {
				refused++
			}
		}
		v.Expect("the proxy's own backend dial was refused, once per connection", refused == n && len(o.ProxyLog) == n,
			"%d ECONNREFUSED of %d logged failures", refused, len(o.ProxyLog))
		head := fmt.Sprintf("%s: direct dial %s; %d/%d dials succeed through the proxy, first Read %d× EOF/reset, slowest %.1f ms",
			ProxyMechanism, o.Direct.Kind, n-f[FateNoDial], n, f[FateEnded], slowestRead(cs))
		if p := o.Published; p != nil {
			pc := asProxyConns(p.Conns)
			pf := countFates(pc)
			mech := refusedMechanism(pc)
			v.Expect("published: one connection per dial, through the labelled network", len(pc) == n && p.Network == scenario.LabelPublished+"=true",
				"%d connections, %d dials, network %s", len(pc), n, p.Network)
			v.Expect("published: the host port's mechanism is recognised", mech != viaUnknown, "%s; fates %v", mech, pf)
			switch mech {
			case viaDockerProxy:
				// docker-proxy accepts and its own dial is refused.
				v.Expect("published via docker-proxy: every first Read returns EOF or reset at once, with no data",
					pf[FateEnded] == n && noData(pc) && slowestRead(pc) <= 100, "fates %v, slowest %.1f ms", pf, slowestRead(pc))
			case viaDNAT:
				v.Expect("published via iptables DNAT: every dial refused", pf[FateNoDial] == n, "fates %v", pf)
			}
			head += "; " + describe(mech, pc)
		}
		v.Headline("%s", head)
	}),
	Article: "not in the article: behind Docker's port proxy a refused connection looks like one the server closed",
}

// ProxyRefusedObs is what proxy-refused observed.
type ProxyRefusedObs struct {
	Mechanism     string      `json:"mechanism"`               // go-connections/proxy
	Dials         int         `json:"dials" tcplab:"info"`     // asked: client.dials
	Succeeded     int         `json:"succeeded" tcplab:"info"` // of Conns: dials the proxy accepted
	Ended         int         `json:"ended" tcplab:"info"`     // of Conns: first Reads that returned EOF or ECONNRESET
	Conns         []QuickConn `json:"conns"`
	SlowestReadMS float64     `json:"slowest_read_ms" tcplab:"info"` // of Conns: the latest first Read's return, from its dial
	// Direct is a dial straight to the server's backend port, where nothing
	// listens on any address: the contrast the proxy hides.
	Direct scenario.ErrInfo `json:"direct"`
	// ProxyLog is the proxy's backend dial failures: one ECONNREFUSED per
	// dial is the headline.
	ProxyLog []ProxyLogLine `json:"proxy_log" tcplab:"headline"`
	// Published is what the host saw through Docker's own publishing of a
	// closed port; null where the port was not published (compose).
	Published *PublishedObs[QuickConn] `json:"published"`
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

// refusedMechanism infers what answered on the host port: docker-proxy
// accepts every dial (its own is refused); with iptables DNAT the host's
// dial itself is refused.
func refusedMechanism(cs []ProxyConn) string {
	ok, refused := 0, 0
	for _, c := range cs {
		if c.Fate != FateNoDial {
			ok++
		}
		if c.Dial.Kind == "ECONNREFUSED" {
			refused++
		}
	}
	switch {
	case ok == len(cs):
		return viaDockerProxy
	case refused == len(cs):
		return viaDNAT
	}
	return viaUnknown
}

// publishedRefused is proxy-refused's host probe: the same dials through
// Docker's publishing of the server's PublishedPort, where nothing listens.
// It only records; the verdicts judge what it saw.
func publishedRefused(ctx context.Context, addr string, k scenario.Knobs) (scenario.Merge, error) {
	cs := probeProxy(ctx, addr, k.Int("client.dials"), refusedDialTimeout, refusedHold)
	p := newPublishedObs(addr, refusedHold, cs, quick, refusedMechanism(cs))
	return func(r *scenario.Result) error {
		return scenario.Amend(r, func(o *ProxyRefusedObs) { o.Published = p })
	}, nil
}
