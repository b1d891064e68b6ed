package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKilledBeforeTheRun kills `tcplab run` with SIGKILL while it prepares
// its run (the lab binary compiled, the image's build context written),
// where no deferred clean-up runs: what it left (a scratch directory and
// its session's lock; a go build of its own, which must die with it) is
// gone after the next `tcplab clean`, or the next run's start, and Docker
// holds nothing of that session. A kill during the run itself is
// lab/harness's TestCleanOnlyDead.
func TestKilledBeforeTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI against Docker")
	}
	bin := buildCLI(t)
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	for _, next := range [][]string{{"clean"}, {"run", "dial-refused"}} {
		t.Run("then "+strings.Join(next, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			// Its own temporary and cache directories (sessions live in the
			// latter), and the Go build cache everyone shares.
			tmp, cache := t.TempDir(), t.TempDir()
			env := append(os.Environ(), "TMPDIR="+tmp, "XDG_CACHE_HOME="+cache, "GOCACHE="+strings.TrimSpace(string(gocache)))

			cmd := exec.CommandContext(ctx, bin, "run", "dial-refused")
			cmd.Env = env
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill() }()
			var scratch string
			for deadline := time.Now().Add(2 * time.Minute); scratch == "" && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				for _, m := range globDirs(filepath.Join(tmp, "tcplab-image-*")) {
					scratch = m // made just before the go build starts
				}
			}
			require.NotEmpty(t, scratch, "tcplab run never made its build directory in %s", tmp)
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()

			// What the kill left: the directory, its lock, the session's lock.
			assert.DirExists(t, scratch, "killed while preparing, it cannot have removed its build directory")
			assert.FileExists(t, scratch+".lock")
			sessions, _ := filepath.Glob(filepath.Join(cache, "tcplab", "sessions", "*.lock"))
			require.Len(t, sessions, 1, "the killed run's session lock")
			session := strings.TrimSuffix(filepath.Base(sessions[0]), ".lock")
			// Its go build died with it (the kernel's parent-death signal):
			// gone at once, and it never wrote the binary it was building
			// (a go build left running finishes it in a second or two).
			assert.Eventually(t, func() bool { return len(processesNaming(scratch)) == 0 }, time.Second, 20*time.Millisecond,
				"a process outlived the killed tcplab: %v", processesNaming(scratch))
			time.Sleep(6 * time.Second) // past the sweep's grace for a directory just made
			assert.NoFileExists(t, filepath.Join(scratch, "tcplab"), "a go build outlived the killed tcplab and finished")
			nextCmd := exec.CommandContext(ctx, bin, next...)
			nextCmd.Env = env
			out, err := nextCmd.CombinedOutput()
			require.NoError(t, err, "tcplab %s:\n%s", strings.Join(next, " "), out)
			if next[0] == "clean" {
				assert.Contains(t, string(out), "removed 1 build directories")
			}
			left, _ := filepath.Glob(filepath.Join(tmp, "tcplab-*"))
			assert.Empty(t, left, "left in the temporary directory after tcplab %s", strings.Join(next, " "))
			assert.NoFileExists(t, sessions[0], "the killed session's lock")
			for _, kind := range []string{"ps", "network"} {
				args := []string{kind, "ls", "-q", "--filter", "label=tcplab.session=" + session}
				if kind == "ps" {
					args = []string{"ps", "-aq", "--filter", "label=tcplab.session=" + session}
				}
				got, err := exec.CommandContext(ctx, "docker", args...).Output()
				require.NoError(t, err)
				assert.Empty(t, strings.TrimSpace(string(got)), "docker %s of the killed session", kind)
			}
		})
	}
}

func globDirs(pattern string) []string {
	var dirs []string
	m, _ := filepath.Glob(pattern)
	for _, p := range m {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

// processesNaming lists the command lines, from /proc, of the processes
// whose arguments name path.
func processesNaming(path string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), path) {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}
