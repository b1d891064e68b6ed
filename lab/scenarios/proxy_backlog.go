package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/tcpmodel"
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
	// The host probe and the client each wait one hold (measured 11.5–13 s
	// with tcp_syn_retries 1).
	Weight: func(k scenario.Knobs) time.Duration {
		return 2*proxyHold(tcpmodel.SynGiveUp(k.Int("server.tcp_syn_retries"))) + startup
	},
	Knobs: []scenario.Knob{
		{Name: "server.backlog", Default: "4", Kind: scenario.Int, Min: 1, Max: 64,
			Help: "the backend's listen(2) backlog; the proxy's own listener keeps somaxconn"},
		{Name: "server.tcp_syn_retries", Default: "1", Kind: scenario.Int, Min: 1, Max: 4,
			Help: "the proxy's backend dial runs in the server's namespace: its SYN retries decide when it gives up"},
		{Name: "client.dials", Default: "10", Kind: scenario.Int, Min: 2, Max: 200, Help: "serial dials through the proxy"},
		knobSerialDialTimeout,
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
		_, giveUp := tcpmodel.SynSchedule(retries, linear)
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
		return e.Record(&ProxyBacklogObs{Mechanism: ProxyMechanism, Dials: n, Succeeded: n - f[FateNoDial], Hung: f[FateHung], Ended: f[FateEnded],
			Conns: conns, BackendGiveUpMS: scenario.Ms(giveUp), ServerSynRetries: retries, ServerSynLinearTimeouts: linear,
			HoldMS: scenario.Ms(hold), BackendAcceptQueue: rep.Backend.AcceptQueue, BackendBacklog: rep.Backend.Backlog, ProxyLog: rep.Log})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *ProxyBacklogObs, v *scenario.Verdict) {
		s, n := k.Int("server.backlog"), k.Int("client.dials")
		v.Expect("the server runs the asked tcp_syn_retries", o.ServerSynRetries == k.Int("server.tcp_syn_retries"),
			"tcp_syn_retries %d, asked %d", o.ServerSynRetries, k.Int("server.tcp_syn_retries"))
		_, giveUp := tcpmodel.SynSchedule(o.ServerSynRetries, o.ServerSynLinearTimeouts)
		hold := proxyHold(giveUp)
		v.Expect("one connection per dial", len(o.Conns) == n, "%d connections, %d dials", len(o.Conns), n)
		f := countFates(o.Conns)
		v.Expect("every dial succeeds at the proxy", f[FateNoDial] == 0, "fates %v", f)
		v.Expect("no first Read returns data or an unexpected error (the backend never sends)", noData(o.Conns) && f[FateData]+f[FateOther] == 0,
			"fates %v", f)
		// The proxy logs each backend dial that failed; the others
		// completed: backlog+1 into the backend's accept queue, and any
		// whose handshake raced the full queue (the server drops its last
		// ACK, so only the proxy's side is established). Each of those
		// hangs; the dials are serial, so the queue is full long before
		// the last of them and some must give up.
		completed := n - len(o.ProxyLog)
		v.Expect("every connection whose backend dial completed hangs on Read, and backlog+1 or more did", f[FateHung] == completed && completed >= s+1,
			"%d hung, %d backend dials completed (%d failed), backlog=%d", f[FateHung], completed, len(o.ProxyLog), s)
		v.Expect("the rest read EOF or reset, and there are some", f[FateEnded] == n-completed && f[FateEnded] > 0,
			"%d ended, %d backend dials failed; fates %v", f[FateEnded], n-completed, f)
		hung, ended := readTimes(o.Conns)
		// The hung Reads end at their deadline (from the dial): never
		// early, late by the poller and scheduling.
		if len(hung) > 0 {
			v.TimelyAll("the hung Reads return at their deadline", hung, hold, 0.01, 50*time.Millisecond)
		}
		// The ended ones end when the proxy's backend dial gives up: the
		// server's SYN timers (jiffies: never early but for one), each
		// rounded up on the timer wheel by up to 1/8 of its length (64
		// jiffies for 1 s and 2 s at HZ=1000; 3.080 s seen for 3 s on a
		// busy runner), then the proxy's close crosses the bridge.
		if len(ended) > 0 {
			v.TimelyAll("they end when the proxy's backend dial gives up (the server's SYN schedule)", ended, giveUp-synJiffy, 1.0/8, 50*time.Millisecond)
		}
		timedOut := 0
		for _, l := range o.ProxyLog {
			if l.Error.Kind == "ETIMEDOUT" {
				timedOut++
			}
		}
		v.Expect("the proxy's backend dial failed with ETIMEDOUT once per ended connection", timedOut == len(o.ProxyLog),
			"%d ETIMEDOUT of %d logged failures", timedOut, len(o.ProxyLog))
		// The proxy's backend dials run at once, and the kernel checks the
		// queue for each final ACK without the listener's lock: two ACKs
		// handled at once on two CPUs both find the last place (a compose
		// run saw backlog+2 once in four). Serial dials (backlog-full)
		// never race.
		q := o.BackendAcceptQueue
		v.Expect("the backend's listener has the asked backlog", o.BackendBacklog == int64(s), "backlog %d, asked %d", o.BackendBacklog, s)
		v.Expect("its accept queue holds backlog+1 (+1 when two final ACKs race), each hung", (q == int64(s+1) || q == int64(s+2)) && int64(f[FateHung]) >= q,
			"accept queue %d, backlog %d, %d hung", q, s, f[FateHung])
		head := fmt.Sprintf("%s, backlog=%d: %d/%d dials, %d hung, %d EOF after %v", ProxyMechanism, s, n-f[FateNoDial], n, f[FateHung], f[FateEnded], giveUp)
		if p := o.Published; p != nil {
			publishedBacklogVerdicts(k, p, v)
			head += "; " + describe(backlogMechanism(asProxyConns(p.Conns), s), asProxyConns(p.Conns))
		}
		v.Headline("%s", head)
	}),
	Article: "not in the article: behind Docker's port proxy the backlog is invisible to the dialer",
}

// ProxyBacklogObs is what proxy-backlog observed.
type ProxyBacklogObs struct {
	Mechanism string      `json:"mechanism"`               // what stood in front of the backend: go-connections/proxy
	Dials     int         `json:"dials" tcplab:"info"`     // asked: client.dials
	Succeeded int         `json:"succeeded" tcplab:"info"` // of Conns: dials the proxy accepted
	Hung      int         `json:"hung" tcplab:"info"`      // of Conns: first Reads that hit their deadline
	Ended     int         `json:"ended" tcplab:"info"`     // of Conns: first Reads that returned EOF or ECONNRESET
	Conns     []ProxyConn `json:"conns"`
	// BackendGiveUpMS is when the proxy's backend dial gives up, from the
	// server's tcp_syn_retries and tcp_syn_linear_timeouts (SynSchedule).
	BackendGiveUpMS  float64 `json:"backend_give_up_ms" tcplab:"info"`
	ServerSynRetries int     `json:"server_syn_retries" tcplab:"exact"`
	// ServerSynLinearTimeouts is the server's tcp_syn_linear_timeouts;
	// with the default one SYN retry the give-up is 3 s whatever it is.
	ServerSynLinearTimeouts int     `json:"server_syn_linear_timeouts" tcplab:"info"`
	HoldMS                  float64 `json:"hold_ms" tcplab:"info"` // each first Read's bound, from its dial
	// BackendAcceptQueue and BackendBacklog are the backend listener's, as
	// the server's kernel reports them after the dials.
	BackendAcceptQueue int64          `json:"backend_accept_queue" tcplab:"headline"`
	BackendBacklog     int64          `json:"backend_backlog" tcplab:"exact"`
	ProxyLog           []ProxyLogLine `json:"proxy_log"` // the proxy's backend dial failures
	// Published is what the host saw through Docker's own publishing of
	// the same setup; null where the port was not published (compose).
	Published *PublishedObs[ProxyConn] `json:"published"`
}

// proxyHold bounds each first Read: past the latest moment the backend
// dial may give up, so every connection that will end has ended.
func proxyHold(giveUp time.Duration) time.Duration {
	return tcpmodel.LateBound(giveUp, 1.0/8, 250*time.Millisecond) + time.Second
}

func sysctlInt(m map[string]string, name string, def int) int {
	if v, err := strconv.Atoi(m[name]); err == nil {
		return v
	}
	return def
}

// backlogMechanism infers what answered on the host port from the dials:
// docker-proxy accepts all of them; iptables DNAT (userland-proxy=false)
// shows the real backlog, the next dial timing out.
func backlogMechanism(cs []ProxyConn, s int) string {
	ok := 0
	for _, c := range cs {
		if c.Fate != FateNoDial {
			ok++
		}
	}
	switch {
	case ok > s+1:
		return viaDockerProxy
	case ok == s+1 && len(cs) > s+1 && cs[s+1].Dial.Timeout:
		return viaDNAT
	}
	return viaUnknown
}

// publishedBacklog is proxy-backlog's host probe: the same dials through
// Docker's publishing of a second never-accepting listener. It only
// records; the verdicts judge what it saw.
func publishedBacklog(ctx context.Context, addr string, k scenario.Knobs) (scenario.Merge, error) {
	s, n := k.Int("server.backlog"), k.Int("client.dials")
	hold := proxyHold(tcpmodel.SynGiveUp(k.Int("server.tcp_syn_retries")))
	cs := probeProxy(ctx, addr, n, k.Duration("client.dial_timeout"), hold)
	p := newPublishedObs(addr, hold, cs, same, backlogMechanism(cs, s))
	return func(r *scenario.Result) error {
		return scenario.Amend(r, func(o *ProxyBacklogObs) { o.Published = p })
	}, nil
}

// publishedBacklogVerdicts judges the host's view. What answers there is
// inferred from the dials, not assumed. docker-proxy's own backend dial
// runs on the host's SYN schedule (6 retries by default: about two
// minutes), so within the hold the connections it has not connected hang
// like the ones it has.
func publishedBacklogVerdicts(k scenario.Knobs, p *PublishedObs[ProxyConn], v *scenario.Verdict) {
	s, n := k.Int("server.backlog"), k.Int("client.dials")
	hold := proxyHold(tcpmodel.SynGiveUp(k.Int("server.tcp_syn_retries")))
	cs := p.Conns
	f := countFates(cs)
	mech := backlogMechanism(cs, s)
	v.Expect("published: one connection per dial, through the labelled network", len(cs) == n && p.Network == scenario.LabelPublished+"=true",
		"%d connections, %d dials, network %s", len(cs), n, p.Network)
	v.Expect("published: the host port's mechanism is recognised", mech != viaUnknown,
		"%s; %d of %d dials succeeded, backlog=%d", mech, n-f[FateNoDial], n, s)
	v.Expect("published: no first Read returns data or an unexpected error", noData(cs) && f[FateData]+f[FateOther] == 0, "fates %v", f)
	hung, ended := readTimes(cs)
	if len(hung) > 0 {
		v.TimelyAll("published: the hung Reads return at their deadline", hung, hold, 0.01, 50*time.Millisecond)
	}
	switch mech {
	case viaDockerProxy:
		v.Expect("published via docker-proxy: every dial succeeds, backlog+1 or more hang", f[FateNoDial] == 0 && f[FateHung] >= s+1,
			"fates %v", f)
		// Whatever the host's tcp_syn_retries (≥ 1), its give-up is
		// ≥ 3 s; later than that, the lab cannot know.
		if len(ended) > 0 {
			v.Expect("published via docker-proxy: none ends before a SYN give-up could (3 s)", slices.Min(ended) >= tcpmodel.SynGiveUp(1)-synJiffy,
				"the first ended at %v", slices.Min(ended))
		}
	case viaDNAT:
		// The kernel's own backlog: backlog+1 connect and hang, the next
		// dial's SYN is dropped and it times out at client.dial_timeout.
		v.Expect("published via iptables DNAT: backlog+1 connected, all hang", f[FateHung] == s+1, "fates %v", f)
	}
}

// readTimes are the first Reads' times of the connections that hung and of
// those that ended.
func readTimes(cs []ProxyConn) (hung, ended []time.Duration) {
	for _, c := range cs {
		switch c.Fate {
		case FateHung:
			hung = append(hung, fromMS(c.ReadMS))
		case FateEnded:
			ended = append(ended, fromMS(c.ReadMS))
		}
	}
	return hung, ended
}
