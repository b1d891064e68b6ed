package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"reflect"
	"sort"
	"strconv"
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

	ctrl  *control.Client
	agent *control.Client // in the server's namespace
	res   *Result
	mech  map[string]bool
	// recorded is the type Record was given, checked against Scenario.Obs.
	recorded reflect.Type
}

// Wiring is what the runner sets up before a client driver runs: the
// server's address, resolved once (a name in every Dial would put a DNS
// round trip inside each measured dial), and the side channels.
type Wiring struct {
	IP     string          // the server's address
	Server *control.Client // the server's control channel
	Agent  *control.Client // the impairment agent in the server's namespace
}

// NewEnv is the Env the runner hands a client driver: ctx ends at the
// scenario's timeout, host is the server's name, and res is the result the
// driver fills in.
func NewEnv(ctx context.Context, k Knobs, host string, w Wiring, res *Result) *Env {
	return &Env{Ctx: ctx, Knobs: k, Host: host, ip: w.IP, ctrl: w.Server, agent: w.Agent, res: res, mech: map[string]bool{}}
}

// Addr is the address under test, host:8080.
func (e *Env) Addr() string { return net.JoinHostPort(e.ip, strconv.Itoa(Port)) }

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

// Handle answers the server side channel's requests (the runner adds
// what concerns the process, such as its peak RSS).
func (s *ServerEnv) Handle(ctx context.Context, op string, args []byte) (any, error) {
	var a struct{ Name string }
	if len(args) > 0 {
		if err := json.Unmarshal(args, &a); err != nil {
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
	case "quit":
		return nil, control.ErrQuit
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

// Ms is d in milliseconds, rounded to 0.1 ms, for observations.
func Ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// Mechanisms lists, sorted, the impairment mechanisms the driver's Impair
// calls used.
func (e *Env) Mechanisms() []string {
	out := make([]string, 0, len(e.mech))
	for m := range e.mech {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
