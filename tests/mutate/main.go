// Command mutate proves that the lab's tests can fail: it copies the source
// tree to a temporary directory, applies one deliberate breakage at a time
// (a source rewrite, never a switch in the product's code), runs the tests
// that should catch it, and exits non-zero if any breakage survives.
//
//	go run ./tests/mutate            # every breakage
//	go run ./tests/mutate -list      # what they are
//	go run ./tests/mutate -only nodelay-inverted
//
// A breakage whose text is no longer found, or whose rewrite no longer
// compiles, is an error too: the list must follow the code.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mutation is one deliberate breakage: in file, old (which must occur
// exactly once) becomes new; tests (a -run pattern for ./tests/) must fail.
type mutation struct {
	name, why string
	file      string
	old, new  string
	tests     string
}

var mutations = []mutation{
	{
		name: "backlog-accepts", why: "the backlog-full server accepts every connection",
		file: "lab/scenarios/backlog_full.go",
		old:  "Server: neverAccept,", new: "Server: acceptAll,",
		tests: "^TestBacklogFull$",
	},
	{
		name: "dial-deadline-ignored", why: "DialTimeout's deadline is ignored (plain Dial)",
		file: "lab/scenarios/dial_timeout.go",
		old:  `c, err := net.DialTimeout("tcp", e.Addr(), t)`, new: `c, err := net.Dial("tcp", e.Addr())`,
		tests: "^TestDialTimeout$",
	},
	{
		name: "read-deadline-unset", why: "read-timeout's trial deadline is not set (an older one applies)",
		file:  "lab/scenarios/read_timeout.go",
		old:   "if err := c.SetReadDeadline(time.Now().Add(dl)); err != nil { // the idle Read's",
		new:   "if err := error(nil); err != nil {",
		tests: "^TestReadTimeout$",
	},
	{
		name: "write-deadline-unset", why: "the writer never sets its write deadline",
		file: "lab/scenarios/writer.go",
		old:  "if perWrite > 0 {", new: "if perWrite < 0 {",
		tests: "^TestWriteTimeout$",
	},
	{
		name: "nodelay-inverted", why: "SetNoDelay is given the opposite value",
		file: "lab/scenarios/opt_nodelay.go",
		old:  "tc.SetNoDelay(nd)", new: "tc.SetNoDelay(!nd)",
		tests: "^TestOptNoDelay$",
	},
	{
		name: "closewrite-closes", why: "CloseWrite becomes Close",
		file: "lab/scenarios/close_half.go",
		old:  "c.(*net.TCPConn).CloseWrite()", new: "c.(*net.TCPConn).Close()",
		tests: "^TestCloseHalf$",
	},
	{
		name: "proxy-hold-short", why: "proxy-backlog's reads stop at the backend dial's give-up, before the proxy's close arrives",
		file: "lab/scenarios/proxy_backlog.go",
		old:  "return scenario.LateBound(giveUp, 1.0/8, 250*time.Millisecond) + time.Second", new: "return giveUp",
		tests: "^TestProxyBacklog$",
	},
	{
		name: "published-mechanism-mislabelled", why: "a host port where docker-proxy accepted every dial is called iptables DNAT",
		file: "lab/scenarios/proxy_refused.go",
		old:  "case p.Succeeded == n:\n\t\tp.Mechanism = viaDockerProxy", new: "case p.Succeeded == n:\n\t\tp.Mechanism = viaDNAT",
		tests: "^TestProxyRefused$",
	},
}

func main() {
	list := flag.Bool("list", false, "list the breakages and exit")
	only := flag.String("only", "", "run only the breakage with this name")
	perTest := flag.Duration("timeout", 5*time.Minute, "bound of each mutated test run")
	flag.Parse()
	if *list {
		for _, m := range mutations {
			fmt.Printf("%-22s %s (%s; caught by %s)\n", m.name, m.why, m.file, m.tests)
		}
		return
	}
	if err := run(*only, *perTest); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(only string, perTest time.Duration) error {
	root, err := gitRoot()
	if err != nil {
		return err
	}
	var todo []mutation
	for _, m := range mutations {
		if only == "" || m.name == only {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return fmt.Errorf("no breakage named %q (see -list)", only)
	}
	tmp, err := os.MkdirTemp("", "tcplab-mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		return err
	}
	var survived []string
	for _, m := range todo {
		start := time.Now()
		caught, detail, err := try(tmp, m, perTest)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		verdict := "caught"
		if !caught {
			verdict = "SURVIVED"
			survived = append(survived, m.name)
		}
		fmt.Printf("%-8s %-22s %-55s %5.0fs  %s\n", verdict, m.name, m.why, time.Since(start).Seconds(), detail)
	}
	if len(survived) > 0 {
		return fmt.Errorf("%d of %d breakages survived: %s", len(survived), len(todo), strings.Join(survived, ", "))
	}
	fmt.Printf("all %d breakages caught\n", len(todo))
	return nil
}

// try applies m to the copy, runs its tests and restores the file.
func try(dir string, m mutation, perTest time.Duration) (caught bool, detail string, err error) {
	path := filepath.Join(dir, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		return false, "", err
	}
	if n := bytes.Count(orig, []byte(m.old)); n != 1 {
		return false, "", fmt.Errorf("%q occurs %d times in %s, want exactly once: update the breakage", m.old, n, m.file)
	}
	broken := bytes.Replace(orig, []byte(m.old), []byte(m.new), 1)
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		return false, "", err
	}
	defer func() {
		if rerr := os.WriteFile(path, orig, 0o644); rerr != nil && err == nil {
			err = rerr
		}
	}()

	// A breakage that does not compile proves nothing about the tests.
	if out, err := goCmd(dir, 2*time.Minute, "vet", "./lab/...", "./tests/"); err != nil {
		return false, "", fmt.Errorf("the broken tree does not compile:\n%s", tail(out, 10))
	}
	out, err := goCmd(dir, perTest, "test", "-count=1", "-run", m.tests, "./tests/")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return false, "tests passed", nil
	case errors.As(err, &exit):
		if strings.Contains(out, "container tests skipped") {
			return false, "", errors.New("container tests skipped (no Docker?): nothing was tried")
		}
		return true, firstFailure(out), nil
	default:
		return false, "", err
	}
}

func goCmd(dir string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	cmd.WaitDelay = 10 * time.Second
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if ctx.Err() != nil {
		return b.String(), fmt.Errorf("go %s: timed out after %v", strings.Join(args, " "), timeout)
	}
	return b.String(), err
}

// firstFailure is the first assertion line of a failing go test output.
func firstFailure(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Error:") || strings.Contains(l, "did not hold") {
			return truncate(l, 110)
		}
	}
	return "tests failed"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func gitRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", errors.New("run it inside the tcplab checkout")
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTree copies the files git knows (tracked, and untracked but not
// ignored) from root to dst.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the work tree
	}
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || st.IsDir() {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
