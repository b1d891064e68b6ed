package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/tcplab/tcplab/lab/runner"
)

// Init is the guest's /init: it sets up the namespaces, runs the roles,
// prints the result on the console and powers the VM off. It never returns.
func Init() {
	if err := guest(); err != nil {
		fmt.Printf("%s%v\n", ErrorMarker, strings.ReplaceAll(err.Error(), "\n", " | "))
	}
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {} // PID 1 must not exit: that would panic the kernel
}

func uptime() string {
	b, _ := os.ReadFile("/proc/uptime")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return "at uptime " + f[0] + " s"
	}
	return ""
}

func guest() error {
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	fmt.Printf("%s %s\n", UpMarker, uptime())
	b, err := os.ReadFile(ConfigPath)
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", ConfigPath, err)
	}
	for _, m := range cfg.ModuleFiles {
		if err := loadModule(m); err != nil {
			if strings.HasPrefix(filepath.Base(m), "veth.") {
				return err
			}
			fmt.Printf("tcplab-vm: %v (impairments needing it will fail)\n", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Seconds)*time.Second)
	defer cancel()
	nets, err := network(cfg.Roles)
	if err != nil {
		return err
	}
	reportFacts(cfg.Roles, nets, cfg.Facts)
	err = runRoles(ctx, cfg.Roles, nets)
	reportCounters(cfg.Roles, nets, cfg.Counters)
	return err
}

// reportCounters prints /proc/thread-self/net counters ("Section.Name")
// of each role host's namespace: /proc/net would show /init's own.
func reportCounters(roles []Role, nets map[string]netns.NsHandle, names []string) {
	for _, r := range roles {
		if r.NetnsOf != "" {
			continue
		}
		_ = inNetns(nets[r.Name], func() error {
			all := map[string]string{}
			for _, f := range []string{"/proc/thread-self/net/netstat", "/proc/thread-self/net/snmp"} {
				b, _ := os.ReadFile(f)
				lines := strings.Split(string(b), "\n")
				for i := 0; i+1 < len(lines); i += 2 {
					keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
					for j := 1; j < len(keys) && j < len(vals); j++ {
						all[strings.TrimSuffix(keys[0], ":")+"."+keys[j]] = vals[j]
					}
				}
			}
			for _, n := range names {
				if v, ok := all[n]; ok {
					fmt.Printf("%s%s %s=%s\n", CounterMarker, r.Name, n, v)
				}
			}
			return nil
		})
	}
}

// loadModule loads a .ko or .ko.xz (decompressed by the kernel).
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(path, ".xz") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	if err := unix.FinitModule(int(f.Fd()), "", flags); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading %s: %w", filepath.Base(path), err)
	}
	return nil
}

// inNetns runs f on a thread that has entered ns. The thread stays locked
// and is discarded when f returns, so no other goroutine ever runs in ns.
// Children started by f inherit ns.
func inNetns(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// newNetns makes a network namespace and returns a handle to it.
func newNetns() (netns.NsHandle, error) {
	var h netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		var err error
		h, err = netns.GetFromPath("/proc/thread-self/ns/net")
		errc <- err
	}()
	return h, <-errc
}

// network gives each role without NetnsOf its own namespace with lo up,
// joins them by a veth pair (eth0 in each) with addresses from Subnet,
// writes /etc/hosts with the role names, and sets each role's sysctls in
// its namespace. It returns the namespace of every role.
func network(roles []Role) (map[string]netns.NsHandle, error) {
	nets := map[string]netns.NsHandle{}
	var hosts []string
	var own []netns.NsHandle
	for _, r := range roles {
		if r.NetnsOf != "" {
			ns, ok := nets[r.NetnsOf]
			if !ok {
				return nil, fmt.Errorf("role %s shares the namespace of %q, which is not an earlier role", r.Name, r.NetnsOf)
			}
			nets[r.Name] = ns
			continue
		}
		ns, err := newNetns()
		if err != nil {
			return nil, err
		}
		nets[r.Name] = ns
		own = append(own, ns)
		hosts = append(hosts, fmt.Sprintf("%s%d %s", Subnet, len(own), r.Name))
	}
	if len(own) != 2 {
		return nil, fmt.Errorf("%d role hosts: the VM runtime joins exactly two by veth", len(own))
	}
	root, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0", Namespace: netlink.NsFd(own[0])},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(own[1])}
	if err := root.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("veth: %w", err)
	}
	for i, ns := range own {
		if err := linkUp(ns, fmt.Sprintf("%s%d/24", Subnet, i+1)); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile("/etc/hosts", []byte("127.0.0.1 localhost\n"+strings.Join(hosts, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	for _, r := range roles {
		if err := inNetns(nets[r.Name], func() error { return writeSysctls(r.Sysctls) }); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	return nets, nil
}

// reportFacts prints each name's value in each role host's namespace.
func reportFacts(roles []Role, nets map[string]netns.NsHandle, names []string) {
	for _, r := range roles {
		if r.NetnsOf != "" {
			continue
		}
		_ = inNetns(nets[r.Name], func() error {
			for _, n := range names {
				b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(n, ".", "/"))
				if err != nil {
					fmt.Printf("%s%s %s absent\n", FactMarker, r.Name, n)
					continue
				}
				fmt.Printf("%s%s %s=%s\n", FactMarker, r.Name, n, strings.Join(strings.Fields(string(b)), " "))
			}
			return nil
		})
	}
}

func linkUp(ns netns.NsHandle, cidr string) error {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, name := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		if name == "eth0" {
			a, err := netlink.ParseAddr(cidr)
			if err != nil {
				return err
			}
			if err := h.AddrAdd(l, a); err != nil {
				return fmt.Errorf("address %s: %w", cidr, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s up: %w", name, err)
		}
	}
	return nil
}

// writeSysctls writes /proc/sys on the calling thread: the net.* files
// opened there belong to the thread's network namespace.
func writeSysctls(s map[string]string) error {
	for name, v := range s {
		p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", name, v, err)
		}
	}
	return nil
}

// runRoles starts the roles in order, each in its namespace as a child of
// /init, waits for each as its Wait says and prints the result role's JSON.
func runRoles(ctx context.Context, roles []Role, nets map[string]netns.NsHandle) error {
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds { // the server and agent end on the client's quit; this is the backstop
			done := make(chan struct{})
			go func() {
				if err := c.Wait(); err != nil {
					fmt.Fprintf(os.Stderr, "tcplab-vm: %s ended: %v\n", c.Args[1], err)
				}
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				if err := c.Process.Kill(); err != nil {
					fmt.Fprintf(os.Stderr, "tcplab-vm: killing %s: %v\n", c.Args[1], err)
				}
				<-done
			}
		}
	}()
	for _, r := range roles {
		cmd := exec.CommandContext(ctx, "/proc/self/exe", r.Args...)
		cmd.Args[0] = "tcplab"
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		errPipe, err := cmd.StderrPipe()
		if err != nil {
			return err
		}
		ready := make(chan struct{}, 1)
		go func() {
			sc := bufio.NewScanner(errPipe)
			for sc.Scan() {
				fmt.Printf("[%s] %s\n", r.Name, sc.Text())
				if sc.Text() == runner.ReadyLine {
					ready <- struct{}{}
				}
			}
		}()
		if err := inNetns(nets[r.Name], cmd.Start); err != nil {
			return fmt.Errorf("starting %s: %w", r.Name, err)
		}
		switch r.Wait {
		case "ready":
			cmds = append(cmds, cmd)
			select {
			case <-ready:
			case <-ctx.Done():
				return fmt.Errorf("%s was not ready: %w", r.Name, ctx.Err())
			}
		case "exit":
			err := cmd.Wait()
			line := lastJSON(stdout.Bytes())
			if line == nil {
				return fmt.Errorf("%s printed no result (%v)", r.Name, err)
			}
			fmt.Printf("%s%s\n", ResultMarker, line)
			return nil
		default:
			return fmt.Errorf("role %s: unknown wait %q", r.Name, r.Wait)
		}
	}
	return errors.New("no role waits for exit: no result")
}

func lastJSON(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte("{")) {
			return lines[i]
		}
	}
	return nil
}
