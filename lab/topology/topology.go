// Package topology declares one lab run before anything starts: its
// networks, its hosts (network namespaces) and the containers in them, with
// their commands, sysctls, capabilities, waits and lifetimes. Plan builds it
// from a scenario and typed options, validated once; a Runtime (the Docker
// harness, or a named kernel in a VM: lab/kernelrun) runs it, and the
// compose generator renders the same plan, so the ways of running a
// scenario cannot drift apart.
//
// Every run has two hosts, server and client. Each host's namespace is owned
// by an agent, the only container with NET_ADMIN: it starts first, carries
// the host's sysctls (a namespace has one set), cuts every route through a
// gateway and only then says ready; the role joins its namespace with no
// capabilities at all. Every network is internal, so nothing in the lab has
// a way out, and the client proves it in each result (route_out).
package topology

import (
	"context"
	"time"

	"github.com/tcplab/tcplab/lab/scenario"
)

// Runtime runs a planned topology and returns the client's result. It
// removes whatever it started before returning, also on failure.
type Runtime interface {
	Run(ctx context.Context, t *Topology) (*scenario.Result, error)
}

// Role is what a node runs.
type Role string

const (
	Server Role = "server" // the scenario's server behaviour
	Client Role = "client" // the scenario's driver; its exit ends the run
	Agent  Role = "agent"  // owns a host's namespace: cuts routes, impairs, captures
)

// Capabilities an agent may hold; every other one is dropped, and roles get none.
const (
	CapNetAdmin = "NET_ADMIN"
	CapNetRaw   = "NET_RAW" // only with Capture: an AF_PACKET socket needs it
)

// LinearSysctl is the sysctl pinned to 0 where the kernel has it (Linux ≥
// 6.5), so the SYN schedule is the exponential one the scenarios predict.
const LinearSysctl = "net.ipv4.tcp_syn_linear_timeouts"

// LabelPublished marks a network with a port published to the host.
const LabelPublished = scenario.LabelPublished

// Topology is one run, declared.
type Topology struct {
	Scenario string
	Image    string
	Labels   map[string]string // on every network and node
	Networks []Network
	Hosts    []Host
	Nodes    []Node // in start order: a namespace's owner before its other nodes
}

// MaxOpenFiles is every lab container's open-file limit, soft and hard,
// and MaxProcs its process (thread) limit. They are set, not inherited:
// Podman's defaults (nofile 1048576, nproc 4194304) exceed the hard limits
// of some hosts, where every container then fails to start ("error
// setting rlimit type 7: operation not permitted"); and a run holds the
// same limits on every daemon. On this project's machine, where nothing
// holds CAP_SYS_RESOURCE, Podman's service runs with nofile 20000 and
// nproc 32768, which bound what its containers may get. 16384 files hold
// model-scale's largest run (client.conns 16000) with room.
const (
	MaxOpenFiles = 16384
	MaxProcs     = 16384
)

// Network is a bridge the lab creates.
type Network struct {
	Name string
	// Internal: Docker adds no route to the outside world. Always true but
	// for a Published network.
	Internal bool
	// Published holds a port published to the host's 127.0.0.1 (for a
	// scenario that must show Docker's own port publishing): it carries
	// LabelPublished and holds only the server.
	Published bool
	Labels    map[string]string
}

// Host is one network namespace: its name on the networks (a DNS alias of
// its owner), the networks it joins and its sysctls. The sysctls go on the
// owner, set as the namespace is made: Docker 20.10 also accepts net.*
// sysctls on a container that joins (`--network container:X`), but they
// then overwrite the namespace's values as it starts (measured: somaxconn
// 77 on the owner, 99 on the joiner, both then read 99).
type Host struct {
	Name     string
	Networks []string
	Sysctls  map[string]string
}

// WaitKind says when a started node counts as up.
type WaitKind int

const (
	WaitReady WaitKind = iota + 1 // it printed runner.ReadyLine
	WaitExit                      // it exited (the client)
)

// Wait bounds how long a runtime waits for a node.
type Wait struct {
	Kind    WaitKind
	Timeout time.Duration
}

// Mount is a host directory inside a node (compose's results).
type Mount struct{ Source, Target string }

// Node is one container (or process) of a run.
type Node struct {
	Name  string // unique in the run
	Role  Role
	Host  string // the namespace it lives in
	Owner bool   // creates the namespace: joins its networks, carries its sysctls
	Args  []string
	Caps  []string // the only capabilities it holds; all others are dropped
	// Memory is the container's memory limit in bytes, swap included; 0
	// is none (the ROLE.memory_limit knobs).
	Memory int64
	Wait   Wait
	// Lifetime bounds a server or agent that never hears the client's quit.
	Lifetime time.Duration
	Mounts   []Mount
	// Fetch copies a file out of the node once the client is done (the
	// node is stopped first, so it can finish writing): Fetch.Source in
	// the node to Fetch.Target on the host.
	Fetch *Mount
}

// Host returns the named host, or nil.
func (t *Topology) Host(name string) *Host {
	for i := range t.Hosts {
		if t.Hosts[i].Name == name {
			return &t.Hosts[i]
		}
	}
	return nil
}

// Node returns the named node, or nil.
func (t *Topology) Node(name string) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Name == name {
			return &t.Nodes[i]
		}
	}
	return nil
}

// Owner returns the node that owns host's namespace, or nil.
func (t *Topology) Owner(host string) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Host == host && t.Nodes[i].Owner {
			return &t.Nodes[i]
		}
	}
	return nil
}

// ByRole returns the first node of role, or nil.
func (t *Topology) ByRole(r Role) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Role == r {
			return &t.Nodes[i]
		}
	}
	return nil
}
