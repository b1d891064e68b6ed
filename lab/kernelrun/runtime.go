package kernelrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tcplab/tcplab/lab/debian"
	"github.com/tcplab/tcplab/lab/planner"
	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/topology"
	"github.com/tcplab/tcplab/lab/vm"
)

// ErrUnsupported starts the error of a plan a VM cannot run (a capture
// fetched out of a node, a port published to the host, a mounted results
// directory): the run says so instead of running.
var ErrUnsupported = errors.New("not supported on a VM kernel")

// Runtime runs topologies on one kernel, one VM per run.
type Runtime struct {
	Name    string // "6.1", as the user named it
	Machine *vm.Machine
	// Linear: the kernel has tcp_syn_linear_timeouts. Pin: plans pin it
	// to 0 as the container runtime does; off by default, so that a run
	// shows the kernel's own SYN schedule (4 linear timeouts on 6.12).
	Linear, Pin bool
	// Boots collects each run's boot time and total, for the benchmark.
	Boots func(boot, total time.Duration)
}

var _ topology.Runtime = (*Runtime)(nil)

// New is the runtime of kernel k (found by Find), booting binary (a static
// linux/amd64 lab binary) as /init.
func New(name string, k *debian.Kernel, binary string) (*Runtime, error) {
	linear, err := HasLinearTimeouts(k.Release)
	if err != nil {
		return nil, err
	}
	return &Runtime{Name: name, Linear: linear, Machine: &vm.Machine{Kernel: k, Binary: binary}}, nil
}

// Plan declares a run of sc on this kernel: the image names the kernel
// (nothing pulls it), and the linear SYN timeouts are pinned off only
// with Pin and where the kernel has them (a knob may still set them; on a
// kernel without them that fails the run in one line).
func (r *Runtime) Plan(sc *scenario.Scenario, overrides scenario.Knobs, opts ...topology.Option) (*topology.Topology, error) {
	row, err := planner.Resolve(sc, overrides)
	if err != nil {
		return nil, err
	}
	return r.PlanRow(row, opts...)
}

// PlanRow is Plan for a planned row, its knobs resolved once.
func (r *Runtime) PlanRow(row planner.Row, opts ...topology.Option) (*topology.Topology, error) {
	base := []topology.Option{topology.WithImage("vm:" + r.Machine.Kernel.Release), topology.WithLinearSynTimeouts(r.Linear && r.Pin)}
	if row.Scenario.Published != nil { // planned as the harness plans it; Run then says a VM cannot
		base = append(base, topology.WithPublished())
	}
	return topology.PlanRow(row, append(base, opts...)...)
}

// Config maps a plan onto the VM's roles: each host's owner (its agent)
// becomes a role named after the host, carrying the host's sysctls; every
// other node joins its owner's namespace. Plans a VM cannot run give
// ErrUnsupported.
func Config(t *topology.Topology) (vm.Config, error) {
	if err := t.Validate(); err != nil {
		return vm.Config{}, err
	}
	for _, n := range t.Networks {
		if n.Published {
			return vm.Config{}, fmt.Errorf("%w: %s publishes a port to the host (Docker's proxy)", ErrUnsupported, t.Scenario)
		}
	}
	var cfg vm.Config
	for _, n := range t.Nodes {
		switch {
		case n.Fetch != nil:
			return vm.Config{}, fmt.Errorf("%w: %s fetches %s out of %s (packet capture)", ErrUnsupported, t.Scenario, n.Fetch.Source, n.Name)
		case len(n.Mounts) > 0:
			return vm.Config{}, fmt.Errorf("%w: %s mounts a host directory into %s", ErrUnsupported, t.Scenario, n.Name)
		case n.Memory > 0:
			return vm.Config{}, fmt.Errorf("%w: %s limits %s's memory (a container's cgroup; a VM's roles have none)", ErrUnsupported, t.Scenario, n.Name)
		}
		h := t.Host(n.Host)
		r := vm.Role{Args: n.Args, Wait: "ready"}
		if n.Owner {
			r.Name, r.Sysctls = h.Name, h.Sysctls
		} else {
			r.Name, r.NetnsOf = h.Name+"/"+string(n.Role), h.Name
		}
		if n.Wait.Kind == topology.WaitExit {
			r.Wait = "exit"
		}
		cfg.Roles = append(cfg.Roles, r)
		if s := n.Wait.Timeout + 5*time.Second; n.Wait.Kind == topology.WaitExit && s > time.Duration(cfg.Seconds)*time.Second {
			cfg.Seconds = int(s / time.Second)
		}
	}
	// The agents' nf_tables; the impairments' modules only when a run
	// may impair (loading them all costs about a second under TCG).
	cfg.Modules = append(append([]string(nil), vm.BaseModules...), "nf_tables")
	if impairs(t) {
		cfg.Modules = debian.Modules
	}
	cfg.Seconds += 60 // the roles' start-up under TCG
	return cfg, nil
}

// dropScenarios have the server's agent drop packets (scenario.Env.Impair).
var dropScenarios = map[string]bool{"dial-lossy": true, "dial-timeout": true, "opt-keepalive": true}

func impairs(t *topology.Topology) bool {
	if dropScenarios[t.Scenario] {
		return true
	}
	for _, n := range t.Nodes {
		for _, a := range n.Args {
			if strings.HasPrefix(a, "impair.") {
				return true
			}
		}
	}
	return false
}

// Run boots a VM for t and returns the client's result, with the sysctls
// and counters the kernel had in each host's namespace and the package it
// came from (the guest knows only its release). QEMU is gone and
// its files removed when Run returns, also when ctx ends (Ctrl-C).
func (r *Runtime) Run(ctx context.Context, t *topology.Topology) (*scenario.Result, error) {
	cfg, err := Config(t)
	if err != nil {
		return nil, err
	}
	run, err := r.Machine.Run(ctx, cfg, time.Duration(cfg.Seconds)*time.Second+30*time.Second)
	if run != nil && r.Boots != nil && run.Boot > 0 {
		r.Boots(run.Boot, run.Total)
	}
	if err != nil {
		return nil, err
	}
	res := &scenario.Result{}
	if err := json.Unmarshal(run.Result, res); err != nil {
		return nil, fmt.Errorf("vm %s: result: %w", r.Machine.Kernel.Release, err)
	}
	res.Sysctls, res.Counters = run.Sysctls, run.Counters
	res.KernelPackage = r.Machine.Kernel.Package()
	return res, nil
}
