// Package kernel reads the evidence the kernel keeps about TCP in the
// current network namespace: /proc/net counters, listener queues, sysctls.
// It runs inside the lab's Linux containers. The /proc readers are plain
// file reads and fail where /proc is missing; the one netlink query
// (sock_diag, diag_linux.go) has a diag_other.go that says it needs Linux,
// so host packages that import this one still build on macOS and Windows.
package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Release is the running kernel's version (uname -r).
func Release() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Sysctl reads a sysctl such as "net.ipv4.tcp_syn_retries"; ok is false when
// the kernel does not have it.
func Sysctl(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "", false
	}
	return strings.Join(strings.Fields(string(b)), " "), true
}

// Netstat returns the counters of one section ("TcpExt", "Tcp", …) of
// /proc/net/netstat and /proc/net/snmp in this network namespace.
func Netstat(section string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, f := range []string{"/proc/net/netstat", "/proc/net/snmp"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			if len(names) == 0 || names[0] != section+":" || len(names) != len(vals) {
				continue
			}
			for j := 1; j < len(names); j++ {
				v, _ := strconv.ParseInt(vals[j], 10, 64)
				out[names[j]] = v
			}
		}
	}
	return out, nil
}

// Socket is one row of /proc/net/tcp.
type Socket struct {
	LocalPort  int
	RemotePort int
	State      string
	TxQueue    int64
	RxQueue    int64 // for a listener: the accept queue length (sk_ack_backlog)
}

var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
	"05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
	"09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}

// Sockets lists the TCP sockets (IPv4 and IPv6) of this network namespace.
func Sockets() ([]Socket, error) {
	var out []Socket
	var errs []error
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			errs = append(errs, err) // tcp6 is absent where IPv6 is off
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 5 {
				continue
			}
			s := Socket{State: tcpStates[fs[3]]}
			s.LocalPort = port(fs[1])
			s.RemotePort = port(fs[2])
			tx, rx, _ := strings.Cut(fs[4], ":")
			s.TxQueue, _ = strconv.ParseInt(tx, 16, 64)
			s.RxQueue, _ = strconv.ParseInt(rx, 16, 64)
			out = append(out, s)
		}
		fh.Close()
	}
	if len(errs) == 2 {
		return nil, fmt.Errorf("kernel: no TCP socket table: %w", errors.Join(errs...))
	}
	return out, nil
}

func port(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	v, _ := strconv.ParseInt(p, 16, 32)
	return int(v)
}

// Listener returns the listening socket on port, with its accept-queue length
// and backlog.
func Listener(p int) (Socket, error) {
	socks, err := Sockets()
	if err != nil {
		return Socket{}, err
	}
	for _, s := range socks {
		if s.State == "LISTEN" && s.LocalPort == p {
			return s, nil
		}
	}
	return Socket{}, fmt.Errorf("no listener on port %d", p)
}

// Stats is the kernel evidence a server reports about its port.
type Stats struct {
	Kernel          string            `json:"kernel"`
	AcceptQueue     int64             `json:"accept_queue"`
	Backlog         int64             `json:"backlog"`
	BacklogError    string            `json:"backlog_error,omitempty"` // why Backlog is -1
	Listening       bool              `json:"listening"`
	ListenOverflows int64             `json:"listen_overflows"`
	ListenDrops     int64             `json:"listen_drops"`
	States          map[string]int    `json:"states"` // socket states on the port
	Sysctls         map[string]string `json:"sysctls"`
}

// StatsFor collects Stats for port in this network namespace.
func StatsFor(p int) Stats {
	st := Stats{Kernel: Release(), States: map[string]int{}, Sysctls: map[string]string{}}
	if l, err := Listener(p); err == nil {
		st.Listening, st.AcceptQueue = true, l.RxQueue
		// /proc/net/tcp shows no backlog for listeners; sock_diag does
		// (idiag_wqueue is sk_max_ack_backlog), as in ss -lnt's Send-Q.
		// -1 when it cannot tell.
		st.Backlog = -1
		if b, err := ListenBacklog(p); err == nil {
			st.Backlog = b
		} else {
			st.BacklogError = err.Error()
		}
	}
	if c, err := Netstat("TcpExt"); err == nil {
		st.ListenOverflows, st.ListenDrops = c["ListenOverflows"], c["ListenDrops"]
	}
	if socks, err := Sockets(); err == nil {
		for _, s := range socks {
			if s.LocalPort == p && s.State != "LISTEN" {
				st.States[s.State]++
			}
		}
	}
	for _, n := range []string{"net.core.somaxconn", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
		"net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts", "net.core.rmem_max", "net.core.wmem_max"} {
		if v, ok := Sysctl(n); ok {
			st.Sysctls[n] = v
		}
	}
	return st
}

// CapNetAdmin is CAP_NET_ADMIN's bit in the capability sets.
const CapNetAdmin = 12

// Facts is what the lab's probe container reports before any run: enough
// for the host to tell whether the daemon gives the lab what it needs.
type Facts struct {
	Kernel    string `json:"kernel"`
	Linear    bool   `json:"tcp_syn_linear_timeouts"` // the kernel has the sysctl
	GOARCH    string `json:"goarch"`                  // the binary's architecture, as it runs
	Somaxconn string `json:"somaxconn"`               // net.core.somaxconn as this container sees it
	NetAdmin  bool   `json:"net_admin"`               // CAP_NET_ADMIN is in the effective set
	CapsError string `json:"caps_error,omitempty"`    // why NetAdmin could not be read
}

// Probe collects Facts in the calling process.
func Probe(goarch string) Facts {
	f := Facts{Kernel: Release(), GOARCH: goarch}
	_, f.Linear = Sysctl("net.ipv4.tcp_syn_linear_timeouts")
	f.Somaxconn, _ = Sysctl("net.core.somaxconn")
	caps, err := EffectiveCaps()
	if err != nil {
		f.CapsError = err.Error()
	}
	f.NetAdmin = caps&(1<<CapNetAdmin) != 0
	return f
}

// EffectiveCaps reads the CapEff mask of this process from /proc.
func EffectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("kernel: no CapEff line in /proc/self/status")
}
