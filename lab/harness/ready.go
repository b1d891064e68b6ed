package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ForLine waits until the container writes line (on stdout or stderr) by
// following its log stream, so it is ready the moment the line is written.
// testcontainers' wait.ForLog instead polls: two API calls (logs, inspect)
// per interval, and on average half an interval late.
func (l *Lab) ForLine(line string, timeout time.Duration) wait.Strategy {
	return followLine{cli: l.docker, line: line, timeout: timeout}
}

// ForExit waits until the container has stopped, told by the daemon
// itself (ContainerWait) rather than by polling its state.
func (l *Lab) ForExit(timeout time.Duration) wait.Strategy {
	return waitExit{cli: l.docker, timeout: timeout}
}

// ErrExitedEarly means the container stopped before it was ready.
var ErrExitedEarly = errors.New("container exited before it was ready")

type followLine struct {
	cli     *client.Client
	line    string
	timeout time.Duration
}

func (f followLine) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	ins, err := t.Inspect(ctx)
	if err != nil {
		return err
	}
	rc, err := f.cli.ContainerLogs(ctx, ins.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	var src io.Reader = rc
	if !ins.Config.Tty {
		pr, pw := io.Pipe()
		go func() { _, err := stdcopy.StdCopy(pw, pw, rc); pw.CloseWithError(err) }()
		defer pr.Close()
		src = pr
	}
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), f.line) {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %q: %w", f.line, err)
	}
	return fmt.Errorf("waiting for %q: %w", f.line, ErrExitedEarly)
}

type waitExit struct {
	cli     *client.Client
	timeout time.Duration
}

func (w waitExit) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	ins, err := t.Inspect(ctx)
	if err != nil {
		return err
	}
	res := w.cli.ContainerWait(ctx, ins.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
		return nil
	case err := <-res.Error:
		return fmt.Errorf("waiting for the container to exit: %w", err)
	}
}
