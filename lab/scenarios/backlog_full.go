package scenarios

import (
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// backlogFull: the server never accepts, so handshakes pile up in the accept
// queue. Linux admits backlog+1 before it drops SYNs (the full check is
// "queue length > backlog"), and Go's listen backlog is net.core.somaxconn.
var backlogFull = &scenario.Scenario{
	ID:      "backlog-full",
	Section: "2 Connection set-up",
	Title:   "server never accepts: how many dials succeed at once",
	Timeout: 60 * time.Second,
	Weight:  fixed(3 * time.Second),
	Knobs: []scenario.Knob{
		{Name: "server.somaxconn", Default: "16", Kind: scenario.Int, Min: 1, Max: 4096, Help: "the server's listen backlog"},
		knobSerialDialTimeout,
	},
	Cases:  []scenario.Knobs{{"server.somaxconn": "16"}, {"server.somaxconn": "128"}},
	Obs:    scenario.ObsOf[BacklogFullObs](),
	Server: neverAccept,
	Client: func(e *scenario.Env) error {
		s := e.Knobs.Int("server.somaxconn")
		before, err := e.Stats()
		if err != nil {
			return err
		}
		conns, slowest, blocked := fill(e, s+50, e.Knobs.Duration("client.dial_timeout"))
		defer closeAll(conns)
		after, err := e.Stats()
		if err != nil {
			return err
		}
		return e.Record(&BacklogFullObs{
			SucceededAtOnce: len(conns), SlowestSuccessMS: scenario.Ms(slowest), NextDial: scenario.Classify(blocked),
			ListenerBacklog: after.Backlog, BacklogError: after.BacklogError, AcceptQueue: after.AcceptQueue,
			ListenOverflows: after.ListenOverflows - before.ListenOverflows, ListenDrops: after.ListenDrops - before.ListenDrops,
			ServerSysctls: after.Sysctls,
		})
	},
	Verdicts: scenario.VerdictsOf(func(k scenario.Knobs, o *BacklogFullObs, v *scenario.Verdict) {
		s, dl := k.Int("server.somaxconn"), k.Duration("client.dial_timeout")
		// The kernel drops a SYN when the accept queue is over the
		// backlog (sk_acceptq_is_full: queue > backlog), so it admits
		// backlog+1 handshakes, and Go listens with net.core.somaxconn.
		v.Expect("exactly somaxconn+1 succeed at once", o.SucceededAtOnce == s+1, "%d succeeded, somaxconn=%d", o.SucceededAtOnce, s)
		v.Expect("the accept queue reads somaxconn+1 (/proc/net/tcp)", o.AcceptQueue == int64(s+1), "accept queue %d", o.AcceptQueue)
		if o.BacklogError != "" {
			v.Unmeasured("the listener's backlog is somaxconn (sock_diag)", scenario.NoSockDiag, "sock_diag: %s", o.BacklogError)
		} else {
			v.Expect("the listener's backlog is somaxconn (sock_diag)", o.ListenerBacklog == int64(s), "backlog %d", o.ListenerBacklog)
		}
		// An admitted dial completes on its first SYN: one round trip, far
		// inside the first SYN slot's window (≤ 260 ms, before the 1 s
		// retransmission).
		v.Expect("every admitted dial completes on its first SYN (slot 0: ≤ 260 ms)", synSlotOf(fromMS(o.SlowestSuccessMS), firstSYNs) == 0,
			"slowest %v ms", o.SlowestSuccessMS)
		v.Expect("the next dial blocks until its deadline (Timeout(), \"i/o timeout\")",
			o.NextDial.Timeout && strings.HasSuffix(o.NextDial.Text, "i/o timeout"), "next dial: %+v", o.NextDial)
		// Each SYN the blocked dial sent found the queue full: one
		// ListenOverflows and one ListenDrops each. Its deadline (below
		// 1 s) ends it before the first retransmission: one SYN.
		lo, hi := synsBefore(dl, firstSYNs)
		v.Between("ListenOverflows rose by the blocked dial's SYNs", float64(o.ListenOverflows), float64(lo), float64(hi), "")
		v.Between("ListenDrops rose by the blocked dial's SYNs", float64(o.ListenDrops), float64(lo), float64(hi), "")
		v.Headline("somaxconn=%d → %d at once, accept queue %d, overflows +%d", s, o.SucceededAtOnce, o.AcceptQueue, o.ListenOverflows)
	}),
	Article: "macOS 2015: 128 (kern.ipc.somaxconn=128); Ubuntu 14.04: 499 — the lab pins somaxconn and Linux admits backlog+1",
}

// BacklogFullObs is what backlog-full observed.
type BacklogFullObs struct {
	// SucceededAtOnce counts the serial dials that completed within
	// client.dial_timeout before one did not.
	SucceededAtOnce int `json:"succeeded_at_once" tcplab:"headline,exact"`
	// SlowestSuccessMS is the slowest admitted dial: a round trip on the
	// bridge (a millisecond or less), which nothing pins closer than
	// "before the first SYN retransmission"; the verdicts check that much.
	SlowestSuccessMS float64          `json:"slowest_success_ms" tcplab:"info"`
	NextDial         scenario.ErrInfo `json:"next_dial"`                       // the first dial that did not complete
	ListenerBacklog  int64            `json:"listener_backlog" tcplab:"exact"` // -1 where sock_diag is refused (BacklogError)
	BacklogError     string           `json:"backlog_error,omitempty"`
	AcceptQueue      int64            `json:"accept_queue" tcplab:"exact"` // the listener's queue length at the end (/proc/net/tcp)
	// ListenOverflows and ListenDrops are the rise of the server's TcpExt
	// counters during the run.
	ListenOverflows int64             `json:"listen_overflows" tcplab:"exact"`
	ListenDrops     int64             `json:"listen_drops" tcplab:"exact"`
	ServerSysctls   map[string]string `json:"server_sysctls"`
}
