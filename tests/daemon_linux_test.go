package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcplab/tcplab/lab/harness"
	"github.com/tcplab/tcplab/lab/scenario"
)

// envDaemonTests turns on the tests that start a Docker daemon of their
// own: they need root and dockerd, take a minute, and kill that daemon on
// purpose, so they run on their own (.ci/run), not beside the suite.
const envDaemonTests = "TCPLAB_DAEMON_TESTS"

// TestRemoteDaemon runs the lab against a second dockerd reached over TCP
// on 127.0.0.1 (its own data and exec roots), which is how Colima, Docker
// Desktop's VM or CI's docker-in-docker look from the client: the
// published-port scenario reaches the daemon's host, not a guess. Then
// that daemon is killed in the middle of a run: the run ends within 30 s,
// exit 3, with a line naming the daemon; every result file it wrote is
// whole; and once the daemon is back, `tcplab clean` leaves nothing.
func TestRemoteDaemon(t *testing.T) {
	if os.Getenv(envDaemonTests) == "" {
		t.Skipf("starts and kills a Docker daemon of its own: set %s=1 (root, dockerd installed; .ci/run does)", envDaemonTests)
	}
	if os.Getuid() != 0 {
		t.Skip("a second dockerd needs root")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("no dockerd: apt-get install docker.io")
	}
	bin := buildCLI(t)
	docker0 := exec.Command("ip", "link", "show", "docker0").Run() == nil
	d := startDaemon(t)
	env := append(os.Environ(), "DOCKER_HOST="+d.host)

	t.Run("published ports reach the daemon's host", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "run", "proxy-refused", "dial-refused")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "2 passed, 0 failed")
	})

	t.Run("the daemon is killed mid-run", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		// dial-refused ends in a second; backlog-syn-timeout's client
		// waits 15 s for its SYNs, so the kill finds it running.
		cmd := exec.CommandContext(ctx, bin, "run", "dial-refused", "backlog-syn-timeout",
			"--set", "client.tcp_syn_retries=3", "--out", dir)
		cmd.Env = env
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		var stdout strings.Builder
		cmd.Stdout = &stdout
		require.NoError(t, cmd.Start())
		var errOut strings.Builder
		passed := make(chan struct{})
		scanned := make(chan struct{})
		go func() {
			defer close(scanned)
			sc := bufio.NewScanner(stderr)
			once := false
			for sc.Scan() {
				errOut.WriteString(sc.Text() + "\n")
				if !once && strings.Contains(sc.Text(), "PASS dial-refused") {
					once = true
					close(passed)
				}
			}
		}()
		select {
		case <-passed:
		case <-ctx.Done():
			t.Fatalf("dial-refused never passed:\n%s", errOut.String())
		}
		killed := time.Now()
		d.kill(t)
		<-scanned
		err = cmd.Wait()
		took := time.Since(killed)
		out := stdout.String() + errOut.String()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "tcplab run: %v\n%s", err, out)
		assert.Equal(t, 3, exit.ExitCode(), "exit 3: the lab could not run, no verdict on TCP\n%s", out)
		assert.Less(t, took, 30*time.Second, "the run ended %v after the daemon died", took)
		assert.Contains(t, out, "the Docker daemon at "+d.host+" does not answer", "one line names the daemon")

		files, _ := filepath.Glob(filepath.Join(dir, "[0-9]*-*.json"))
		require.Len(t, files, 2, "a result file per row, the one Docker failed included")
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var r scenario.Result
			require.NoError(t, json.Unmarshal(b, &r), "%s is whole", f)
			switch r.Scenario {
			case "dial-refused":
				assert.True(t, r.OK, "the row that ran before the kill is kept as it passed")
			case "backlog-syn-timeout":
				assert.Contains(t, r.CouldNotRun, d.host, "the row the kill stopped says why")
			}
		}
	})

	t.Cleanup(func() {
		if docker0 {
			assert.NoError(t, exec.Command("ip", "link", "show", "docker0").Run(), "the machine daemon's docker0 is gone")
		}
	})

	t.Run("after a restart, clean leaves nothing", func(t *testing.T) {
		d.start(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "clean")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		for _, what := range []string{"ps", "network ls"} {
			args := append(strings.Fields(what), "-q", "--filter", "label=tcplab.session")
			if what == "ps" {
				args = append(args, "-a")
			}
			left, err := exec.CommandContext(ctx, "docker", append([]string{"-H", d.host}, args...)...).Output()
			require.NoError(t, err)
			assert.Empty(t, strings.TrimSpace(string(left)), "docker %s: the dead session's leftovers", what)
		}
	})
}

// daemon is a dockerd of the test's own: its data and exec roots in a
// temporary directory, listening on 127.0.0.1 over TCP.
type daemon struct {
	host, dir string
	cmd       *exec.Cmd
}

// The second daemon keeps out of the first one's way: its default bridge
// is a bridge of its own, and its networks come from an address pool the
// machine's daemon does not use. dockerd deletes an interface named
// docker0, the machine daemon's, as a leftover of its own when it starts
// with --bridge=none, or restarts on its data root with address pools
// and without --live-restore (measured, Docker 20.10.24): so neither.
const (
	daemonBridge = "tcplab-d2"
	daemonBIP    = "10.213.255.1/24"
	daemonPool   = "10.213.0.0/16"
)

// startDaemon starts a dockerd on a free port; the test's cleanup stops it
// and removes its bridges and directory. Docker's FORWARD policy DROP (from
// this machine's own daemon, with br_netfilter) would also drop what this
// daemon's bridges carry between two containers, since this one manages
// no iptables; a DOCKER-USER rule accepts bridged traffic while it runs.
func startDaemon(t *testing.T) *daemon {
	dir, err := os.MkdirTemp("", "tcplab-dockerd-")
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &daemon{host: "tcp://" + l.Addr().String(), dir: dir}
	l.Close()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}"), 0o644))
	rule := []string{"DOCKER-USER", "-m", "physdev", "--physdev-is-bridged", "-j", "ACCEPT"}
	if exec.Command("iptables", "-S", "DOCKER-USER").Run() == nil {
		require.NoError(t, exec.Command("iptables", append([]string{"-I"}, rule...)...).Run())
		t.Cleanup(func() { _ = exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })
	}
	_ = exec.Command("ip", "link", "del", daemonBridge).Run() // one a killed test left
	for _, args := range [][]string{
		{"link", "add", daemonBridge, "type", "bridge"},
		{"addr", "add", daemonBIP, "dev", daemonBridge},
		{"link", "set", daemonBridge, "up"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	t.Cleanup(func() {
		d.stop()
		// Its bridge, and any network bridge it left in its pool.
		out, _ := exec.Command("ip", "-o", "addr", "show", "to", daemonPool).Output()
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				_ = exec.Command("ip", "link", "del", strings.TrimSuffix(f[1], ":")).Run()
			}
		}
		_ = exec.Command("ip", "link", "del", daemonBridge).Run()
		// What the daemon mounted under its roots goes before the files.
		if b, err := os.ReadFile("/proc/mounts"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir) {
					_ = syscall.Unmount(f[1], syscall.MNT_DETACH)
				}
			}
		}
		_ = os.RemoveAll(dir)
	})
	d.start(t)
	return d
}

// start runs dockerd and waits (30 s at most) until it answers.
func (d *daemon) start(t *testing.T) {
	d.stop() // a containerd the last one left
	log, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer log.Close()
	d.cmd = exec.Command("dockerd", "--config-file", filepath.Join(d.dir, "daemon.json"),
		"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "dockerd.pid"), "-H", d.host,
		"--iptables=false", "--live-restore", "--bridge", daemonBridge, "--default-address-pool", "base="+daemonPool+",size=24")
	d.cmd.Stdout, d.cmd.Stderr = log, log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, d.cmd.Start())
	go func(c *exec.Cmd) { _ = c.Wait() }(d.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := exec.CommandContext(ctx, "docker", "-H", d.host, "version").Run()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			t.Fatalf("dockerd at %s did not answer within 30 s: %v\n%s", d.host, err, tail(b, 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill SIGKILLs dockerd alone, as a crash would: its containerd and the
// containers' shims live on.
func (d *daemon) kill(t *testing.T) {
	require.NoError(t, d.cmd.Process.Kill())
}

// stop ends dockerd and every process it started (its process group:
// containerd and the shims), and waits for them to go.
func (d *daemon) stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	}
	// containerd outlives a killed dockerd; it is known by its config
	// under this daemon's exec root.
	_ = exec.Command("pkill", "-f", "containerd --config "+filepath.Join(d.dir, "exec")).Run()
	for range 100 {
		if exec.Command("pgrep", "-f", d.dir).Run() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = exec.Command("pkill", "-9", "-f", d.dir).Run()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// TestBridgeFirewall: a host whose firewall drops traffic between two
// containers on one bridge (here a DOCKER-USER rule dropping the
// preflight's port alone; on a host running Docker and Podman, Docker's
// FORWARD policy DROP does it to Podman's bridges) is refused by the
// preflight in one line, exit 2, before any run starts, and nothing is
// left behind. It changes the host's firewall, so it runs with the
// daemon tests.
func TestBridgeFirewall(t *testing.T) {
	if os.Getenv(envDaemonTests) == "" {
		t.Skipf("changes the host's firewall: set %s=1 (root, iptables; .ci/run does)", envDaemonTests)
	}
	if b, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Skip("bridged traffic does not pass iptables here (br_netfilter off): the rule would not bite")
	}
	rule := []string{"DOCKER-USER", "-p", "tcp", "--dport", harness.ReachPort, "-j", "DROP"}
	if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Skipf("cannot add a DOCKER-USER rule: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })

	bin := buildCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cache := t.TempDir() // its own sessions, to count what it leaves
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, bin, "run", "dial-refused")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "GOCACHE="+strings.TrimSpace(string(gocache)))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Equal(t, 2, exit.ExitCode(), "a host that cannot run the lab is exit 2")
	msg := strings.TrimSpace(stderr.String())
	assert.Contains(t, msg, "two containers on one lab network cannot connect")
	assert.NotContains(t, msg, "\n", "one line")
	assert.NotContains(t, stdout.String(), "dial-refused", "no run started")

	sessions, _ := filepath.Glob(filepath.Join(cache, "tcplab", "sessions", "*.lock"))
	for _, s := range sessions {
		id := strings.TrimSuffix(filepath.Base(s), ".lock")
		for _, args := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}} {
			got, err := exec.Command("docker", append(args, "--filter", "label=tcplab.session="+id)...).Output()
			require.NoError(t, err)
			assert.Empty(t, strings.TrimSpace(string(got)), "docker %s of the refused session", args[0])
		}
	}
}
