package scenario

import (
	"context"
	"fmt"
	"math"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcplab/tcplab/lab/control"
	"github.com/tcplab/tcplab/lab/impair"
	"github.com/tcplab/tcplab/lab/kernel"
)

// Env is what a client driver works with: the knobs, the server's address,
// the side channels, and the result it fills in.
type Env struct {
	Ctx   context.Context // ends at the scenario's timeout
	Knobs Knobs
	Host  string // the server's host name on the lab network
	ip    string // Host, resolved once

	ctrl        *control.Client
	agent       *control.Client // in the server's namespace
	clientAgent *control.Client // in this (the client's) namespace, for impair.* delay
	res         *Result
	mech        map[string]bool
	// recorded is the type Record was given, checked against Scenario.Obs.
	recorded reflect.Type
}

// Addr is the address under test, host:8080.
func (e *Env) Addr() string { return net.JoinHostPort(e.ip, strconv.Itoa(Port)) }

// Expect records whether an expectation held, with a detail for the report.
func (e *Env) Expect(name string, ok bool, format string, args ...any) {
	e.res.Checks = append(e.res.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// Unmeasured records that the expectation name could not be checked here,
// and why: the reports list it beside the failures.
func (e *Env) Unmeasured(name string, format string, args ...any) {
	e.res.Checks = append(e.res.Checks, Check{Name: name, OK: true, Unmeasured: fmt.Sprintf(format, args...)})
}

// Headline sets the one-line summary shown in the report table.
func (e *Env) Headline(format string, args ...any) { e.res.Headline = fmt.Sprintf(format, args...) }

// Stats asks the server for kernel evidence from its network namespace.
func (e *Env) Stats() (kernel.Stats, error) {
	var st kernel.Stats
	err := e.ctrl.Call(e.Ctx, "stats", nil, &st)
	return st, err
}

// Signal releases the server's Await(name).
func (e *Env) Signal(name string) error {
	return e.ctrl.Call(e.Ctx, "signal", map[string]string{"name": name}, nil)
}

// Get fetches a value the server published, into out.
func (e *Env) Get(name string, out any) error {
	return e.ctrl.Call(e.Ctx, "get", map[string]string{"name": name}, out)
}

// GetWait is Get, polling until the server has published name (it
// publishes once it has something to say), for at most max.
func (e *Env) GetWait(name string, out any, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		err := e.Get(name, out)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || e.Ctx.Err() != nil {
			return fmt.Errorf("waiting for the server's %q: %w", name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Impair asks the agent to apply spec (the port defaults to the port under test).
func (e *Env) Impair(spec impair.Spec) error {
	if e.agent == nil {
		return fmt.Errorf("scenario has no impairment sidecar")
	}
	if spec.Port == 0 {
		spec.Port = Port
	}
	var a impair.Applied
	if err := e.agent.Call(e.Ctx, "apply", spec, &a); err != nil {
		return err
	}
	for _, m := range a.Mechanisms {
		e.mech[m] = true
	}
	return nil
}

// ClearImpair removes the drop rules the scenario applied; the run's
// impair.* network (delay, loss, rate) stays until the run ends.
func (e *Env) ClearImpair() error {
	if e.agent == nil {
		return nil
	}
	return e.agent.Call(e.Ctx, "clear", nil, nil)
}

// Dropped is how many packets the impairment rules dropped so far.
func (e *Env) Dropped() (uint64, error) {
	var c impair.Counters
	err := e.agent.Call(e.Ctx, "counters", nil, &c)
	return c.Dropped, err
}

// ServerEnv is what a server behaviour works with.
type ServerEnv struct {
	Ctx   context.Context // ends when the client says quit or the lifetime ends
	Knobs Knobs

	mu      sync.Mutex
	signals map[string]chan struct{}
	values  map[string]any
}

func NewServerEnv(ctx context.Context, k Knobs) *ServerEnv {
	return &ServerEnv{Ctx: ctx, Knobs: k, signals: map[string]chan struct{}{}, values: map[string]any{}}
}

// Listen opens the port under test with Go's default listen backlog
// (net.core.somaxconn, read by Go once per process).
func (s *ServerEnv) Listen() (net.Listener, error) {
	return net.Listen("tcp", ":"+strconv.Itoa(Port))
}

func (s *ServerEnv) signal(name string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.signals[name]
	if !ok {
		ch = make(chan struct{})
		s.signals[name] = ch
	}
	return ch
}

// Await blocks until the client signals name, or the server's context ends.
func (s *ServerEnv) Await(name string) error {
	select {
	case <-s.signal(name):
		return nil
	case <-s.Ctx.Done():
		return s.Ctx.Err()
	}
}

// Publish makes v available to the client's Get(name).
func (s *ServerEnv) Publish(name string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[name] = v
}

// Handle answers the server side channel's requests.
func (s *ServerEnv) Handle(ctx context.Context, op string, args []byte) (any, error) {
	var a struct{ Name string }
	if len(args) > 0 {
		if err := jsonUnmarshal(args, &a); err != nil {
			return nil, err
		}
	}
	switch op {
	case "stats":
		return kernel.StatsFor(Port), nil
	case "signal":
		ch := s.signal(a.Name)
		s.mu.Lock()
		select {
		case <-ch:
		default:
			close(ch)
		}
		s.mu.Unlock()
		return nil, nil
	case "get":
		s.mu.Lock()
		defer s.mu.Unlock()
		v, ok := s.values[a.Name]
		if !ok {
			return nil, fmt.Errorf("nothing published as %q", a.Name)
		}
		return v, nil
	case "rss":
		return rssOp()
	case "quit":
		return nil, control.ErrQuit
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

// Ms is d in milliseconds, rounded to 0.1 ms, for observations.
func Ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// OnTime reports whether got, the measured time of something a timer
// ends after want, is neither early nor too late: a timer never fires
// early, so got < want is always wrong; it may fire late by a fraction of
// its length (Linux's timer wheel: up to 1/8) plus slack for scheduling and
// the round trip, which each caller states.
func OnTime(got, want time.Duration, lateFrac float64, slack time.Duration) bool {
	return got >= want && got <= LateBound(want, lateFrac, slack)
}

// LateBound is the latest time OnTime accepts.
func LateBound(want time.Duration, lateFrac float64, slack time.Duration) time.Duration {
	return want + time.Duration(float64(want)*lateFrac) + slack
}

// SynGiveUp is the kernel's model of how long a connect may retry with R
// SYN retransmissions (tcp_model_timeout): 1+2+…+2^R = 2^(R+1)−1 s.
func SynGiveUp(retries int) time.Duration {
	return time.Duration((1<<(retries+1))-1) * time.Second
}

// SynSchedule mirrors the kernel's SYN retransmission timer: the times
// (from the first SYN) at which SYNs are sent, and when connect gives up
// with ETIMEDOUT. The timer starts at 1 s and doubles after each
// retransmission beyond the first `linear` (tcp_syn_linear_timeouts, Linux
// ≥ 6.5; 0 on older kernels); connect gives up at the first firing at or
// after SynGiveUp(retries). With linear=0 the sends are 0, 1, 3, 7, … and
// the give-up is 2^(R+1)−1 s; with the kernel default linear=4 they are
// 0, 1, 2, 3, 4, 5, 7, 11, … and R=3 gives up at 19 s, not 15.
func SynSchedule(retries, linear int) (sends []time.Duration, giveUp time.Duration) {
	limit := SynGiveUp(retries)
	sends = []time.Duration{0}
	t, rto := time.Duration(0), time.Second
	for n := 1; ; n++ {
		t += rto
		if t >= limit {
			return sends, t
		}
		sends = append(sends, t)
		if n > linear {
			rto = min(2*rto, 120*time.Second)
		}
	}
}

// LocalSynSchedule is SynSchedule for this container's own sysctls. A
// kernel without tcp_syn_linear_timeouts (< 6.5) gives linear 0, which is
// its schedule; LocalLinearTimeouts tells the two apart.
func LocalSynSchedule() (sends []time.Duration, giveUp time.Duration, retries, linear int) {
	retries = 6
	if v, ok := kernel.Sysctl("net.ipv4.tcp_syn_retries"); ok {
		retries, _ = strconv.Atoi(v)
	}
	linear, _ = LocalLinearTimeouts()
	sends, giveUp = SynSchedule(retries, linear)
	return sends, giveUp, retries, linear
}

// LocalLinearTimeouts is this namespace's tcp_syn_linear_timeouts and
// whether the kernel has it at all: absent (6.1) and 0 (pinned on 6.12)
// give the same schedule but are different kernels, and a per-kernel
// report must say which it saw.
func LocalLinearTimeouts() (linear int, present bool) {
	v, ok := kernel.Sysctl("net.ipv4.tcp_syn_linear_timeouts")
	if !ok {
		return 0, false
	}
	linear, _ = strconv.Atoi(v)
	return linear, true
}

// Mechanisms lists the impairment mechanisms used, or "none".
func (e *Env) mechanisms() string {
	if len(e.mech) == 0 {
		return "none"
	}
	var out []string
	for m := range e.mech {
		out = append(out, m)
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}

// synJiffy is how early a SYN retransmission may come: the first timer is
// armed in jiffies, so it fires up to one jiffy (10 ms at CONFIG_HZ=100,
// the coarsest) before its time in real time; later ones are re-armed on a
// jiffy boundary and are never early.
const synJiffy = 10 * time.Millisecond

// OnSynSlot finds the SYN slot at which a connect that took d (timed from
// before its first SYN) completed. Linux's timer wheel fires a timer late
// by up to 1/8 of its timeout and never early (but for synJiffy), and each
// retransmission is timed from the previous one, so slot s matches
// [s − 10 ms, s + s/8 + 250 ms] (250 ms for scheduling and the round
// trip). ok is false when d lies outside that window.
func OnSynSlot(d time.Duration, slots []time.Duration) (slot time.Duration, ok bool) {
	for i := len(slots) - 1; i >= 0; i-- {
		s := slots[i]
		if d >= s-synJiffy {
			return s, OnTime(d, s-synJiffy, 1.0/8, 250*time.Millisecond+synJiffy)
		}
	}
	return slots[0], false
}
