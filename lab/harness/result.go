package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"

	"github.com/tcplab/tcplab/lab/scenario"
	"github.com/tcplab/tcplab/lab/topology"
)

// What a run leaves behind: the client's result (the last JSON line of
// its log), the files nodes wrote, and the tails of the logs for errors.

// result reads the client's result and fetches what nodes wrote.
func (r *run) result(ctx context.Context) (*scenario.Result, error) {
	t := r.t
	client := r.container(t.ByRole(topology.Client).Name)
	var st *container.State
	var out string
	if err := step("reading "+t.ByRole(topology.Client).Name+"'s exit and log", func() (err error) {
		if st, err = client.State(ctx); err == nil {
			out, err = logs(ctx, client)
		}
		return err
	}); err != nil {
		return nil, err
	}
	if st.ExitCode != 0 {
		return nil, fmt.Errorf("%s client exited %d%s", t.Scenario, st.ExitCode, r.logTail(ctx))
	}
	for _, n := range t.Nodes {
		if n.Fetch != nil {
			if err := step("fetching "+n.Fetch.Source+" from "+n.Name, func() error {
				return fetchFile(ctx, r.container(n.Name), n.Fetch.Source, n.Fetch.Target)
			}); err != nil {
				return nil, fmt.Errorf("%s: %w", t.Scenario, err)
			}
		}
	}
	res := &scenario.Result{}
	if err := jsonUnmarshal(lastJSONLine(out), res); err != nil {
		return nil, fmt.Errorf("%s: no result from the client (%v)%s", t.Scenario, err, r.logTail(ctx))
	}
	if res.Error != "" {
		return res, fmt.Errorf("%s: %s%s", t.Scenario, res.Error, r.logTail(ctx))
	}
	return res, nil
}

// fetchFile stops c (SIGTERM, so it flushes) and copies path out to dst.
func fetchFile(ctx context.Context, c testcontainers.Container, path, dst string) error {
	grace := 10 * time.Second
	if err := c.Stop(ctx, &grace); err != nil {
		return err
	}
	rc, err := c.CopyFileFromContainer(ctx, path)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logTail renders the last lines of every started node's log, for errors.
func (r *run) logTail(ctx context.Context) string {
	var b strings.Builder
	for i, c := range r.order {
		out, err := logs(ctx, c)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "\n--- %s log:\n%s", r.names[i], strings.Join(lines, "\n"))
	}
	return b.String()
}

// logs is c's log, as Docker keeps it.
func logs(ctx context.Context, c testcontainers.Container) (string, error) {
	rc, err := c.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// lastJSONLine is the last line of out that starts with '{': the
// client's result, after whatever it logged before.
func lastJSONLine(out string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 && line[0] == '{' {
			last = string(line)
		}
	}
	return last
}
