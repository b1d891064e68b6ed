package scenarios

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/scenario"
)

// optKeepAlive: an idle conn with KeepAliveConfig{idle, interval, count};
// then the agent drops every packet of the port. The kernel sends the first
// probe after idle, one every interval, and gives up (ETIMEDOUT) when count
// probes went unanswered: idle + interval×count after the last packet
// received, which here is the handshake.
var optKeepAlive = &scenario.Scenario{
	ID:      "opt-keepalive",
	Section: "4 Socket options",
	Title:   "idle conn whose peer vanishes: keep-alive ends the blocked Read with ETIMEDOUT",
	Sidecar: true,
	Timeout: 60 * time.Second,
	Knobs: []scenario.Knob{
		{Name: "client.ka_idle", Default: "1s", Kind: scenario.Duration, Min: 1, Max: 30},
		{Name: "client.ka_interval", Default: "1s", Kind: scenario.Duration, Min: 1, Max: 30},
		{Name: "client.ka_count", Default: "3", Kind: scenario.Int, Min: 1, Max: 10},
	},
	Obs: scenario.ObsOf[OptKeepAliveObs](),
	Server: func(s *scenario.ServerEnv) error {
		return acceptWith(s, func(c net.Conn) {
			ka, err := keepAliveOf(c.(*net.TCPConn))
			if err == nil {
				_, port, _ := net.SplitHostPort(c.RemoteAddr().String())
				s.Publish("accepted:"+port, ka)
			}
			<-s.Ctx.Done()
		})
	},
	Client: func(e *scenario.Env) error {
		idle, interval := e.Knobs.Duration("client.ka_idle"), e.Knobs.Duration("client.ka_interval")
		count := e.Knobs.Int("client.ka_count")

		// Go's defaults, on a plain dial and on the server's accepted conn.
		plain, err := net.DialTimeout("tcp", e.Addr(), 5*time.Second)
		if err != nil {
			return err
		}
		dialed, err := keepAliveOf(plain.(*net.TCPConn))
		if err != nil {
			return err
		}
		var accepted keepAlive
		_, port, _ := net.SplitHostPort(plain.LocalAddr().String())
		err = e.GetWait("accepted:"+port, &accepted, 10*time.Second)
		plain.Close()
		if err != nil {
			return err
		}

		d := net.Dialer{Timeout: 5 * time.Second, KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: idle, Interval: interval, Count: count}}
		// t0 precedes the SYN-ACK (the last packet this side receives) and
		// Go's SetKeepAlive after connect, so the kernel's keep-alive
		// deadline cannot come before t0 + idle + interval×count.
		t0 := time.Now()
		c, err := d.DialContext(e.Ctx, "tcp", e.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		set, err := keepAliveOf(c.(*net.TCPConn))
		if err != nil {
			return err
		}
		if err := e.Impair(impair.Spec{DropAll: true}); err != nil {
			return err
		}
		impaired := time.Since(t0)
		want := idle + time.Duration(count)*interval
		if err := c.SetReadDeadline(t0.Add(want + 10*time.Second)); err != nil { // a safety net only
			return err
		}
		_, rerr := c.Read(make([]byte, 1))
		took := time.Since(t0)
		dropped, _ := e.Dropped()

		if err := e.Record(&OptKeepAliveObs{GoDefaultDialed: dialed, GoDefaultAccepted: accepted, KeepAliveSet: set,
			ImpairedAfterMS: scenario.Ms(impaired), ReadFailedAfterMS: scenario.Ms(took), ExpectedMS: scenario.Ms(want),
			ReadError: scenario.Classify(rerr), PacketsDropped: dropped}); err != nil {
			return err
		}
		e.Expect("KeepAliveConfig reaches the socket", set == keepAlive{true, secs(idle), secs(interval), count}, "%v", set)
		e.Expect("the impairment is in place before the first probe", impaired < idle, "applied after %v", impaired.Round(time.Millisecond))
		e.Expect("the blocked Read fails with ETIMEDOUT", errors.Is(rerr, syscall.ETIMEDOUT), "Read: %v", rerr)
		// Each of the count+1 keep-alive timers may fire up to 1/8 late on the
		// timer wheel, never early; 250 ms more for scheduling.
		e.Expect("after idle + interval×count, not before, ≤ 1/8 + 250 ms late", scenario.OnTime(took, want, 1.0/8, 250*time.Millisecond),
			"took %v, want %v", took.Round(time.Millisecond), want)
		e.Expect("the probes were dropped", dropped >= uint64(count), "%d packets dropped", dropped)
		e.Headline("idle %v interval %v count %d → %s after %.2f s (want %.0f s); Go defaults: dialed %v, accepted %v",
			idle, interval, count, scenario.Classify(rerr).Kind, took.Seconds(), want.Seconds(), dialed, accepted)
		return nil
	},
	Article: "the article only listed SetKeepAlive/SetKeepAlivePeriod; Go ≥ 1.23 has KeepAliveConfig",
}

func secs(d time.Duration) int { return int(d / time.Second) }

// OptKeepAliveObs is what opt-keepalive observed.
type OptKeepAliveObs struct {
	GoDefaultDialed   keepAlive `json:"go_default_dialed"`   // a plain Dial's keep-alive state
	GoDefaultAccepted keepAlive `json:"go_default_accepted"` // the server's accepted conn's
	KeepAliveSet      keepAlive `json:"keepalive_set"`       // after KeepAliveConfig
	// ImpairedAfterMS, ReadFailedAfterMS: from just before the dial.
	ImpairedAfterMS   float64          `json:"impaired_after_ms"`
	ReadFailedAfterMS float64          `json:"read_failed_after_ms"`
	ExpectedMS        float64          `json:"expected_ms"` // idle + interval×count
	ReadError         scenario.ErrInfo `json:"read_error"`
	PacketsDropped    uint64           `json:"packets_dropped"`
}
