package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// proxyBacklog: Docker's userland proxy design in front of a server that
// never accepts. The proxy accepts every dial itself, then dials the
// backend from the server's namespace with no timeout of its own: backlog+1
// of those backend dials complete into the backend's accept queue (their
// clients then hang on Read, nothing ever comes), the rest retransmit SYNs
// on the server's schedule and give up with ETIMEDOUT, and only then does
// the proxy close the client's connection (EOF). The dialer never sees the
// backlog. With a published port (the harness's host probe) the same is
// done through Docker's own publishing; there docker-proxy dials from the
// host's namespace, on the host's SYN schedule, which the lab cannot pin.
var proxyBacklog = &scenario.Scenario{
	ID:      "proxy-backlog",
	Section: "6 The network in between",
	Title:   "a userland port proxy in front of a never-accepting server: every dial succeeds, backlog+1 or more hang, the rest read EOF",
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "server.backlog", Default: "4", Kind: scenario.Int, Min: 1, Max: 64,
			Help: "the backend's listen(2) backlog; the proxy's own listener keeps somaxconn"},
		{Name: "server.tcp_syn_retries", Default: "1", Kind: scenario.Int, Min: 1, Max: 4,
			Help: "the proxy's backend dial runs in the server's namespace: its SYN retries decide when it gives up"},
		{Name: "client.dials", Default: "10", Kind: scenario.Int, Min: 2, Max: 200, Help: "serial dials through the proxy"},
		{Name: "client.dial_timeout", Default: "500ms", Kind: scenario.Duration, Min: 0.05, Max: 0.99,
			Help: "bound of each dial; below the 1 s SYN retransmission"},
	},
	Obs:       scenario.ObsOf[ProxyBacklogObs](),
	Server:    proxyServer(true),
	Published: publishedBacklog,
	Client: func(e *scenario.Env) error {
		s, n := e.Knobs.Int("server.backlog"), e.Knobs.Int("client.dials")
		if n <= s+1 {
			return fmt.Errorf("client.dials=%d must exceed server.backlog+1=%d, or nothing is left to give up", n, s+1)
		}
		st, err := e.Stats()
		if err != nil {
			return err
		}
		retries, linear := sysctlInt(st.Sysctls, "net.ipv4.tcp_syn_retries", 6), sysctlInt(st.Sysctls, "net.ipv4.tcp_syn_linear_timeouts", 0)
		_, giveUp := scenario.SynSchedule(retries, linear)
		hold := proxyHold(giveUp)
		conns := probeProxy(e.Ctx, e.Addr(), n, e.Knobs.Duration("client.dial_timeout"), hold)
		if err := e.Signal("count"); err != nil {
			return err
		}
		var rep proxyServerReport
		if err := e.GetWait("proxy", &rep, 5*time.Second); err != nil {
			return err
		}
		f := countFates(conns)
		o := ProxyBacklogObs{Mechanism: ProxyMechanism, Dials: n, Succeeded: n - f[FateNoDial], Hung: f[FateHung], Ended: f[FateEnded],
			Conns: conns, BackendGiveUpMS: scenario.Ms(giveUp), ServerSynRetries: retries, ServerSynLinearTimeouts: linear,
			HoldMS: scenario.Ms(hold), BackendAcceptQueue: rep.Backend.AcceptQueue, BackendBacklog: rep.Backend.Backlog, ProxyLog: rep.Log}
		if err := e.Record(&o); err != nil {
			return err
		}
		e.Expect("every dial succeeds at the proxy", o.Succeeded == n, "%d of %d dials succeeded", o.Succeeded, n)
		// The proxy logs each backend dial that failed; the others
		// completed: backlog+1 into the backend's accept queue, and any
		// whose handshake raced the full queue (the server drops its last
		// ACK, so only the proxy's side is established).
		completed := n - len(rep.Log)
		e.Expect("every connection whose backend dial completed hangs on Read: backlog+1 or more", o.Hung == completed && completed >= s+1,
			"%d hung, %d backend dials completed, backlog=%d", o.Hung, completed, s)
		// The dials are serial: the queue is full long before the last
		// of them, so some backend dials must give up.
		e.Expect("the rest read EOF or reset, and there are some", o.Ended == n-completed && o.Ended > 0,
			"%d ended, %d expected; fates %v", o.Ended, n-completed, f)
		late, ok := endedOnTime(conns, giveUp)
		e.Expect("they end when the proxy's backend dial gives up (never early; late ≤ 1/8 + 250 ms)", ok,
			"give-up %v (tcp_syn_retries=%d, linear=%d); ended at %s", giveUp, retries, linear, late)
		// The proxy's backend dials run at once, and the kernel checks the
		// queue for each final ACK without the listener's lock: two ACKs
		// handled at once on two CPUs both find the last place (a compose
		// run saw backlog+2 once in four). Serial dials (backlog-full)
		// never race.
		q := rep.Backend.AcceptQueue
		e.Expect("the backend's listener has that backlog, its accept queue holds backlog+1 (+1 when two final ACKs race)",
			rep.Backend.Backlog == int64(s) && (q == int64(s+1) || q == int64(s+2)),
			"accept queue %d, backlog %d", rep.Backend.AcceptQueue, rep.Backend.Backlog)
		timedOut := 0
		for _, l := range rep.Log {
			if l.Error.Kind == "ETIMEDOUT" {
				timedOut++
			}
		}
		e.Expect("the proxy's backend dial failed with ETIMEDOUT once per ended connection", timedOut == o.Ended && len(rep.Log) == o.Ended,
			"%d ETIMEDOUT of %d logged failures, %d ended", timedOut, len(rep.Log), o.Ended)
		e.Headline("%s, backlog=%d: %d/%d dials, %d hung, %d EOF after %v", ProxyMechanism, s, o.Succeeded, n, o.Hung, o.Ended, giveUp)
		return nil
	},
	Article: "not in the article: behind Docker's port proxy the backlog is invisible to the dialer",
}

// ProxyBacklogObs is what proxy-backlog observed.
type ProxyBacklogObs struct {
	Mechanism string      `json:"mechanism"` // what stood in front of the backend: go-connections/proxy
	Dials     int         `json:"dials"`
	Succeeded int         `json:"succeeded"` // dials the proxy accepted
	Hung      int         `json:"hung"`      // first Reads that hit their deadline
	Ended     int         `json:"ended"`     // first Reads that returned EOF or ECONNRESET
	Conns     []ProxyConn `json:"conns"`
	// BackendGiveUpMS is when the proxy's backend dial gives up, from the
	// server's tcp_syn_retries and tcp_syn_linear_timeouts (SynSchedule).
	BackendGiveUpMS         float64 `json:"backend_give_up_ms"`
	ServerSynRetries        int     `json:"server_syn_retries"`
	ServerSynLinearTimeouts int     `json:"server_syn_linear_timeouts"`
	HoldMS                  float64 `json:"hold_ms"` // each first Read's bound, from its dial
	// BackendAcceptQueue and BackendBacklog are the backend listener's, as
	// the server's kernel reports them after the dials.
	BackendAcceptQueue int64          `json:"backend_accept_queue"`
	BackendBacklog     int64          `json:"backend_backlog"`
	ProxyLog           []ProxyLogLine `json:"proxy_log"` // the proxy's backend dial failures
	// Published is what the host saw through Docker's own publishing of
	// the same setup; null where the port was not published (compose).
	Published *PublishedObs `json:"published"`
}

// proxyHold bounds each first Read: past the latest moment the backend
// dial may give up, so every connection that will end has ended.
func proxyHold(giveUp time.Duration) time.Duration {
	return scenario.LateBound(giveUp, 1.0/8, 250*time.Millisecond) + time.Second
}

// endedOnTime checks that every connection that ended did so at the backend
// dial's give-up: that is a SYN timer firing, so it is judged as OnSynSlot
// judges one (never early but for one jiffy, late ≤ 1/8 + 250 ms).
func endedOnTime(cs []ProxyConn, giveUp time.Duration) (times string, ok bool) {
	ok = true
	for _, c := range cs {
		if c.Fate != FateEnded {
			continue
		}
		_, on := scenario.OnSynSlot(time.Duration(c.ReadMS*float64(time.Millisecond)), []time.Duration{giveUp})
		ok = ok && on
		times += fmt.Sprintf(" %.0fms", c.ReadMS)
	}
	return times, ok
}

func sysctlInt(m map[string]string, name string, def int) int {
	if v, err := strconv.Atoi(m[name]); err == nil {
		return v
	}
	return def
}

// publishedBacklog is proxy-backlog's host probe: the same dials through
// Docker's publishing of a second never-accepting listener. What answers
// there is inferred from the dials, not assumed: docker-proxy accepts all
// of them; iptables DNAT (userland-proxy=false) shows the real backlog.
// docker-proxy's own backend dial runs on the host's SYN schedule (6
// retries by default: about two minutes), so within the hold the
// connections it has not connected hang like the ones it has.
func publishedBacklog(ctx context.Context, addr string, k scenario.Knobs) (scenario.Merge, error) {
	s, n := k.Int("server.backlog"), k.Int("client.dials")
	hold := proxyHold(scenario.SynGiveUp(k.Int("server.tcp_syn_retries")))
	cs := probeProxy(ctx, addr, n, k.Duration("client.dial_timeout"), hold)
	p := newPublishedObs(addr, hold, cs)
	switch {
	case p.Succeeded > s+1:
		p.Mechanism = viaDockerProxy
	case p.Succeeded == s+1 && cs[s+1].Dial.Timeout:
		p.Mechanism = viaDNAT
	}
	return func(r *scenario.Result) error {
		err := scenario.Amend(r, func(o *ProxyBacklogObs, expect func(string, bool, string, ...any)) {
			o.Published = p
			f := countFates(cs)
			expect("published: the host port's mechanism is recognised", p.Mechanism != viaUnknown,
				"%s; %d of %d dials succeeded, backlog=%d", p.Mechanism, p.Succeeded, n, s)
			switch p.Mechanism {
			case viaDockerProxy:
				expect("published via docker-proxy: every dial succeeds", p.Succeeded == n, "%d of %d", p.Succeeded, n)
				expect("published via docker-proxy: at least backlog+1 hang, none reads data", p.Hung >= s+1 && f[FateData]+f[FateOther] == 0,
					"fates %v", f)
				// Whatever the host's tcp_syn_retries (≥ 1), its give-up is
				// ≥ 3 s; later than that, the lab cannot know.
				first := time.Duration(0)
				for _, c := range cs {
					if d := time.Duration(c.ReadMS * float64(time.Millisecond)); c.Fate == FateEnded && (first == 0 || d < first) {
						first = d
					}
				}
				expect("published via docker-proxy: none ends before a SYN give-up could (3 s)", p.Ended == 0 || first >= scenario.SynGiveUp(1)-10*time.Millisecond,
					"%d ended, the first at %v", p.Ended, first)
			case viaDNAT:
				expect("published via iptables DNAT: backlog+1 connected, all hang", p.Hung == s+1, "fates %v", f)
			}
		})
		r.Headline += "; " + p.Describe()
		return err
	}, nil
}
