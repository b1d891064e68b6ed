package scenarios

import (
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
	Knobs: []scenario.Knob{
		{Name: "server.somaxconn", Default: "16", Kind: scenario.Int, Min: 1, Max: 4096, Help: "the server's listen backlog"},
		{Name: "client.dial_timeout", Default: "500ms", Kind: scenario.Duration, Min: 0.05, Max: 0.99,
			Help: "bound of each serial dial; below the 1 s SYN retransmission"},
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
		n := len(conns)
		if err := e.Record(&BacklogFullObs{
			SucceededAtOnce: n, SlowestSuccessMS: scenario.Ms(slowest), NextDial: scenario.Classify(blocked),
			ListenerBacklog: after.Backlog, BacklogError: after.BacklogError, AcceptQueue: after.AcceptQueue,
			ListenOverflows: after.ListenOverflows - before.ListenOverflows, ListenDrops: after.ListenDrops - before.ListenDrops,
			ServerSysctls: after.Sysctls,
		}); err != nil {
			return err
		}
		e.Expect("exactly somaxconn+1 succeed at once", n == s+1, "%d succeeded, somaxconn=%d", n, s)
		e.Expect("the next dial blocks", scenario.Classify(blocked).Timeout, "next dial: %v", blocked)
		if after.BacklogError != "" {
			e.Unmeasured("listener backlog is somaxconn", "sock_diag: %s", after.BacklogError)
		} else {
			e.Expect("listener backlog is somaxconn", after.Backlog == int64(s), "backlog %d", after.Backlog)
		}
		e.Expect("accept queue reads somaxconn+1", after.AcceptQueue == int64(s+1), "accept queue %d", after.AcceptQueue)
		e.Expect("overflow counters rise", after.ListenOverflows > before.ListenOverflows && after.ListenDrops > before.ListenDrops,
			"ListenOverflows +%d, ListenDrops +%d", after.ListenOverflows-before.ListenOverflows, after.ListenDrops-before.ListenDrops)
		e.Headline("somaxconn=%d → %d at once, accept queue %d, overflows +%d", s, n, after.AcceptQueue, after.ListenOverflows-before.ListenOverflows)
		return nil
	},
	Article: "macOS 2015: 128 (kern.ipc.somaxconn=128); Ubuntu 14.04: 499 — the lab pins somaxconn and Linux admits backlog+1",
}

// BacklogFullObs is what backlog-full observed.
type BacklogFullObs struct {
	// SucceededAtOnce counts the serial dials that completed within
	// client.dial_timeout before one did not.
	SucceededAtOnce  int              `json:"succeeded_at_once"`
	SlowestSuccessMS float64          `json:"slowest_success_ms"`
	NextDial         scenario.ErrInfo `json:"next_dial"`        // the first dial that did not complete
	ListenerBacklog  int64            `json:"listener_backlog"` // -1 where sock_diag is refused (BacklogError)
	BacklogError     string           `json:"backlog_error,omitempty"`
	AcceptQueue      int64            `json:"accept_queue"` // the listener's queue length at the end (sock_diag)
	// ListenOverflows and ListenDrops are the rise of the server's TcpExt
	// counters during the run.
	ListenOverflows int64             `json:"listen_overflows"`
	ListenDrops     int64             `json:"listen_drops"`
	ServerSysctls   map[string]string `json:"server_sysctls"`
}
