package harness

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/tcplab/tcplab/lab/scenario"
)

// holdEnv makes the test binary, re-executed, act as a lab session that
// created a container and a network and then just lives on.
const holdEnv = "TCPLAB_TEST_HOLD_SESSION"

// TestHoldSession is the helper process of TestCleanOnlyDead; it does
// nothing in a normal run.
func TestHoldSession(t *testing.T) {
	if os.Getenv(holdEnv) != "1" {
		t.Skip("helper process of TestCleanOnlyDead")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := New(ctx)
	require.NoError(t, err)
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(l.labels()), tcnetwork.WithInternal()) // sealed like every lab network
	require.NoError(t, err)
	_, err = testcontainers.Run(ctx, l.Image, testcontainers.WithCmd("serve", "dial-refused", "-lifetime", "3m"),
		testcontainers.WithLabels(l.labels()), tcnetwork.WithNetwork([]string{"server"}, nw))
	require.NoError(t, err)
	fmt.Printf("SESSION %s\n", l.session)
	time.Sleep(3 * time.Minute) // until the parent kills it
}

// TestCleanOnlyDead proves both halves of clean's liveness test with a real
// process and real containers: what a live session created survives clean;
// once that process is killed with SIGKILL (no chance to clean up after
// itself), clean removes its container, network and lock file.
func TestCleanOnlyDead(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process and containers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cli := dockerOrSkip(ctx, t)

	newMachineGate(SessionDir()).waitIdle() // not beside another process's measurement
	helper := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestHoldSession$", "-test.v")
	helper.Env = append(os.Environ(), holdEnv+"=1")
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	killed := false
	var id string
	t.Cleanup(func() {
		if !killed {
			_ = helper.Process.Kill()
			_ = helper.Wait()
		}
		if id != "" {
			_ = removeSession(context.Background(), cli, id)
		}
	})
	sc := bufio.NewScanner(out)
	var said []string // the helper's own output, to say why it failed
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "SESSION "); ok {
			id = s
			break
		}
		said = append(said, sc.Text())
	}
	require.NotEmpty(t, id, "the helper never reported its session; it said:\n%s", strings.Join(said, "\n"))
	lockPath := SessionDir() + string(os.PathSeparator) + id + ".lock"

	counts := func() (containers, networks int) {
		f := client.Filters{}.Add("label", LabelSession+"="+id)
		cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		require.NoError(t, err)
		ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		require.NoError(t, err)
		return len(cs.Items), len(ns.Items)
	}
	for _, tc := range []struct {
		name                string
		kill                bool
		removed             int
		containers, network int
		lockLeft            bool
	}{
		{name: "live session survives", kill: false, removed: 0, containers: 1, network: 1, lockLeft: true},
		{name: "killed session is removed", kill: true, removed: 1, containers: 0, network: 0, lockLeft: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.kill {
				require.NoError(t, helper.Process.Kill()) // SIGKILL where there are signals
				_ = helper.Wait()
				killed = true
			}
			rep, err := clean(ctx, cli, CleanOptions{Only: id}, "")
			require.NoError(t, err)
			require.Len(t, rep.Removed, tc.removed)
			require.Len(t, rep.Kept, 1-tc.removed)
			if tc.removed == 0 {
				assert.Equal(t, "live", rep.Kept[0].State)
			} else {
				assert.Equal(t, id, rep.Removed[0].ID)
				assert.Len(t, rep.Removed[0].Containers, 1)
				assert.Len(t, rep.Removed[0].Networks, 1)
			}
			c, n := counts()
			assert.Equal(t, tc.containers, c, "containers of session %s", id)
			assert.Equal(t, tc.network, n, "networks of session %s", id)
			_, err = os.Stat(lockPath)
			assert.Equal(t, tc.lockLeft, err == nil, "lock file %s: %v", lockPath, err)
		})
	}
}

// A session made on another machine against this daemon is never judged
// here: its lock is not on this host.
func TestJudgeForeignAndUnowned(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   liveness
	}{
		{"other host", map[string]string{LabelSession: "s", LabelHost: "elsewhere", LabelLock: dir + "/x.lock"}, foreign},
		{"no lock label (older tcplab)", map[string]string{LabelSession: "s", LabelHost: "here"}, unowned},
		{"no session label (compose)", map[string]string{}, unowned},
		{"lock outside the session dir", map[string]string{LabelSession: "s", LabelHost: "here", LabelLock: "/etc/passwd"}, unowned},
		{"nobody holds it", map[string]string{LabelSession: "s", LabelHost: "here", LabelLock: dir + "/y.lock"}, dead},
		{"its session holds it", map[string]string{LabelSession: "s", LabelHost: "here", LabelLock: dir + "/z.lock"}, live},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == live {
				held := flock.New(tc.labels[LabelLock])
				ok, err := held.TryLock()
				require.True(t, ok && err == nil, "%v", err)
				defer held.Close()
			}
			got, l := judge(tc.labels, "here", dir)
			assert.Equal(t, tc.want, got)
			if l != nil {
				bury(l)
			}
		})
	}
}

// The watch sees a lab network with a way out the moment it is made, and
// lets an internal one and the published-port network pass.
func TestWatchSealed(t *testing.T) {
	if testing.Short() {
		t.Skip("creates networks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := dockerOrSkip(ctx, t)
	// A key of its own: the suite's own watch, which may run beside this
	// test, must not see this test's deliberate way out.
	const key = "tcplab-watch-test"
	newMachineGate(SessionDir()).waitIdle() // not beside another process's measurement
	w, err := WatchSealed(ctx, key)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the event stream is open
	labels := map[string]string{key: "1"}
	for _, tc := range []struct {
		internal  bool
		published string
	}{{true, ""}, {false, "true"}, {false, ""}} {
		before := w.Seen()
		l := maps.Clone(labels)
		if tc.published != "" {
			l[scenario.LabelPublished] = tc.published
		}
		// The raw API: testcontainers would read its configuration (and
		// want its reaper) before the harness has set it.
		nw, err := cli.NetworkCreate(ctx, fmt.Sprintf("tcplab-watch-test-%d-%d", os.Getpid(), len(tc.published)+map[bool]int{true: 2}[tc.internal]),
			client.NetworkCreateOptions{Internal: tc.internal, Labels: l})
		require.NoError(t, err)
		// Inspected while it exists (a slow daemon answers late).
		require.Eventually(t, func() bool { return w.Seen() > before }, 30*time.Second, 20*time.Millisecond)
		_, err = cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{})
		require.NoError(t, err)
	}
	seen, bad, err := w.Stop()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, seen, 3)
	require.Len(t, bad, 1, "only the network with a way out and no published label: %v", bad)
	assert.Contains(t, bad[0], "neither internal nor the published-port network")
}

// dockerOrSkip is a client of the environment's daemon, closed at the
// test's end, or the test skips saying why.
func dockerOrSkip(ctx context.Context, t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		t.Skip("no Docker:", firstLine(err.Error()))
	}
	return cli
}
