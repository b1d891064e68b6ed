// Package vm runs a scenario's roles on a named kernel: the host side boots
// QEMU with the lab's own static Linux binary as /init of an initramfs, and
// the guest side (that /init, the "vminit" command) puts each role host in
// its own network namespace, joined by veth, with its sysctls, and starts
// the roles with the same arguments they get in containers. The host reads
// the client's result from the serial console.
package vm

// Role is one process of a run, declared as the container harness declares
// its nodes: the lab binary's arguments, its sysctls, and whose network
// namespace it shares.
type Role struct {
	Name string   `json:"name"` // "server", "impair", "client": also its host name
	Args []string `json:"args"` // e.g. serve backlog-full server.somaxconn=16
	// Sysctls are full names (net.core.somaxconn), written in the role's
	// own network namespace before it starts.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// NetnsOf names an earlier role whose network namespace this one shares
	// (the impairment sidecar's network_mode: service:server).
	NetnsOf string `json:"netns_of,omitempty"`
	// Wait says how the next role knows this one is up: "ready" waits for
	// runner.ReadyLine on its stderr; "exit" waits for it to end, and its
	// last JSON line on stdout is the run's result.
	Wait string `json:"wait"`
}

// Config is what the guest reads from ConfigPath.
type Config struct {
	Roles []Role `json:"roles"`
	// Modules are the kernel modules the run needs, by name (of
	// debian.Modules); BaseModules when nil. Their dependencies come along.
	Modules []string `json:"-"`
	// ModuleFiles are their files in the initramfs, in load order (set by
	// Machine.Run).
	ModuleFiles []string `json:"module_files"`
	// Facts are sysctls the guest reads back in every role host's namespace
	// after setting it up and reports on the console (absent ones too), so
	// a result can be explained from the kernel's own settings.
	Facts []string `json:"facts,omitempty"`
	// Counters ("TcpExt.TCPSynRetrans", "Tcp.RetransSegs") are read in
	// every role host's namespace after the result role ends.
	Counters []string `json:"counters,omitempty"`
	// Seconds bounds the whole run inside the guest; the host's deadline is
	// a little longer.
	Seconds int `json:"seconds"`
}

// Paths and console markers shared by host and guest.
const (
	ConfigPath = "/tcplab/vm.json"
	ModuleDir  = "/lib/modules"
	// UpMarker starts the line /init prints first (boot time ends there).
	UpMarker = "tcplab-vm: up"
	// ResultMarker precedes the client's result JSON on one console line.
	ResultMarker = "tcplab-vm: result "
	// FactMarker precedes "ROLE NAME=VALUE" or "ROLE NAME absent".
	FactMarker = "tcplab-vm: sysctl "
	// CounterMarker precedes "ROLE SECTION.NAME=VALUE".
	CounterMarker = "tcplab-vm: counter "
	// ErrorMarker precedes a failure of the guest.
	ErrorMarker = "tcplab-vm: error: "
)

// Subnet is the prefix of the role hosts' addresses: the i-th role with its
// own namespace gets Subnet+(i+1), /24.
const Subnet = "10.13.0."

// DefaultFacts are the settings the lab's set-up scenarios depend on.
var DefaultFacts = []string{"net.core.somaxconn", "net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts"}

// DefaultCounters show the SYN schedule a kernel actually ran: SYN
// retransmissions on the client, SYN-ACK ones and overflows on the server.
var DefaultCounters = []string{"TcpExt.TCPSynRetrans", "Tcp.RetransSegs", "TcpExt.ListenOverflows", "TcpExt.ListenDrops"}

// BaseModules are what every run needs: veth between the namespaces and
// sock_diag for the listener queries. Impairments add nf_tables, sch_tbf,
// sch_netem… (loading them all costs about a second of boot under TCG).
var BaseModules = []string{"veth", "inet_diag", "tcp_diag"}
